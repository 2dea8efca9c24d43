/**
 * producer → producer_consumer → consumer, 100-byte events, the middle
 * stage adding a field to every event it receives decoded.
 *
 *   stagewire, each stage in its own thread        (ports + demand)
 *   stagewire, all three stages fused in one thread (direct calls + demand)
 *   baseline: plain batched postMessage chain between three threads (batch 1000, structured clone)
 *   baseline: a single-thread function pipeline
 *
 * Each contender runs in its own process, alternating, several rounds;
 * events/s is counted at the final consumer over a window after a warm-up.
 *
 *   node --import tsx benchmarks/pipeline.bench.ts [--max-demand 1000] [--rounds 3] [--seconds 3] [--codec shape] [--json]
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { spawnModuleThread } from '../lib/actor/spawn.js'
import { start } from '../lib/index.js'
import { alternate, childArgs, progressBar, rate, report } from './support/harness.js'
import type { Summary } from './support/harness.js'

interface Options { maxDemand: number, seconds: number, warmup: number, codec: string }

const here = import.meta.url
const ext = here.endsWith('.ts') ? 'ts' : 'js'
const stageModule = (name: string): string => fileURLToPath(new URL(`./stages/${name}.${ext}`, here))
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Counts at the final consumer over the window; returns events/s. */
async function measure (read: () => number, options: Options): Promise<number> {
  await sleep(options.warmup * 1000)
  const c0 = read()
  const t0 = performance.now()
  await sleep(options.seconds * 1000)
  return (read() - c0) / ((performance.now() - t0) / 1000)
}

async function stagewire (fused: boolean, options: Options): Promise<number> {
  const thread = fused ? { thread: 'pipeline' } : {}
  const rt = await start({
    codec: options.codec,
    children: [
      { id: 'source', stage: 'producer', module: stageModule('bench-producer'), ...thread },
      { id: 'tag', stage: 'producer_consumer', module: stageModule('bench-tag'), subscribeTo: [{ id: 'source', maxDemand: options.maxDemand }], ...thread },
      { id: 'sink', stage: 'consumer', module: stageModule('bench-sink'), subscribeTo: [{ id: 'tag', maxDemand: options.maxDemand }], ...thread },
    ],
  })
  const sink = (): number => rt.stages().find((s) => s.id === 'sink')?.handled ?? 0
  const value = await measure(sink, options)
  await rt.destroy()
  return value
}

async function postMessageChain (options: Options): Promise<number> {
  const count = new SharedArrayBuffer(8)
  const ab = new MessageChannel()
  const bc = new MessageChannel()
  const url = new URL(`./baselines/postmessage-chain-worker.${ext}`, here)
  const batch = 1000
  const window = 4
  const workers = [
    spawnModuleThread(url, { workerData: { role: 'c', batch, window, up: bc.port2, count }, transferList: [bc.port2] }),
    spawnModuleThread(url, { workerData: { role: 'b', batch, window, up: ab.port2, down: bc.port1 }, transferList: [ab.port2, bc.port1] }),
    spawnModuleThread(url, { workerData: { role: 'a', batch, window, down: ab.port1 }, transferList: [ab.port1] }),
  ]
  const counter = new Float64Array(count)
  const value = await measure(() => counter[0] as number, options)
  await Promise.all(workers.map((w) => w.terminate()))
  return value
}

async function functionPipeline (options: Options): Promise<number> {
  // The same three steps as plain function calls in one thread, in batches
  // of maxDemand, yielding to the event loop between batches of batches.
  const PAD = 'x'.repeat(100)
  let n = 0
  let counted = 0
  const produce = (k: number): Array<{ id: number, ts: number, payload: { n: number, s: string, tag?: number } }> => {
    const ts = performance.timeOrigin + performance.now()
    const out = new Array(k)
    for (let i = 0; i < k; i++) { n++; out[i] = { id: n, ts, payload: { n, s: PAD } } }
    return out
  }
  const tag = (events: ReturnType<typeof produce>): ReturnType<typeof produce> => {
    for (let i = 0; i < events.length; i++) (events[i] as { payload: { tag?: number } }).payload.tag = 1
    return events
  }
  const sink = (events: unknown[]): void => { counted += events.length }
  let running = true
  const loop = (): void => {
    const until = performance.now() + 10
    while (running && performance.now() < until) sink(tag(produce(options.maxDemand)))
    if (running) setImmediate(loop)
  }
  loop()
  const value = await measure(() => counted, options)
  running = false
  return value
}

const contenders: Record<string, (o: Options) => Promise<number>> = {
  'stagewire-threads': (o) => stagewire(false, o),
  'stagewire-fused': (o) => stagewire(true, o),
  'postmessage-chain': postMessageChain,
  'function-pipeline': functionPipeline,
}

async function main (): Promise<void> {
  const child = childArgs()
  if (child !== undefined) {
    const run = contenders[child.name]
    if (run === undefined) throw new Error(`unknown contender ${child.name}`)
    report({ value: await run(child.options as Options) })
    process.exit(0)
  }
  const { values } = parseArgs({
    options: {
      'max-demand': { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      codec: { type: 'string', default: 'shape' },
      json: { type: 'boolean', default: false },
    },
  })
  const options: Options = { maxDemand: Number(values['max-demand']), seconds: Number(values.seconds), warmup: Number(values.warmup), codec: values.codec }
  const summaries = await alternate(here, Object.keys(contenders), options, Number(values.rounds), progressBar('pipeline'))
  print(summaries, options, values.json)
}

function print (summaries: Summary[], options: Options, json: boolean): void {
  const chain = summaries.find((s) => s.name === 'postmessage-chain')?.median ?? Number.NaN
  console.log(`pipeline: producer → producer_consumer → consumer, 100-byte events, maxDemand ${options.maxDemand}, codec ${options.codec}`)
  console.log(`${'contender'.padEnd(20)} ${'median'.padStart(12)} ${'min'.padStart(12)} ${'max'.padStart(12)}  vs postMessage chain`)
  for (const s of summaries) {
    console.log(`${s.name.padEnd(20)} ${rate(s.median).padStart(12)} ${rate(s.min).padStart(12)} ${rate(s.max).padStart(12)}  ${(s.median / chain).toFixed(2)}x`)
  }
  if (json) {
    console.log(JSON.stringify({ scenario: 'pipeline', options, contenders: summaries, ratios: Object.fromEntries(summaries.map((s) => [s.name, s.median / chain])) }))
  }
}

await main()
