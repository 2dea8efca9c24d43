/**
 * Scenario `pipeline`: producer → producer_consumer → consumer, 100-byte events, the middle stage
 * adding a field to every event it receives decoded.
 *
 *   stagewire-threads   each stage in its own thread        (ports + demand)
 *   stagewire-fused     all three stages in one thread       (direct calls + demand)
 *   postmessage-chain   baseline: plain batched postMessage chain between three threads (batch 1000, structured clone)
 *   function-pipeline   baseline: a single-thread function pipeline
 *
 * events/s is counted at the final consumer over a window after a warm-up; then the producer is
 * stopped and the run waits until everything it made has arrived (`produced` = `consumed`).
 * @internal
 */
import { spawnModuleThread } from '../actor/spawn.js'
import { start } from '../runtime.js'
import { HeapWatch, benchStage, sleep, until, workerEntry } from './common.js'
import type { RunResult } from './harness.js'

/** Options of every contender of the scenario. */
export interface PipelineOptions { maxDemand: number, seconds: number, warmup: number, codec: string }

/** The contenders, in the order they alternate; the last two are the baselines. */
export const PIPELINE_CONTENDERS = ['stagewire-threads', 'stagewire-fused', 'postmessage-chain', 'function-pipeline'] as const
/** What ratios are taken against. */
export const PIPELINE_BASELINE = 'postmessage-chain'

const DRAIN_MS = 10_000

/** Counts at the final consumer over the window; returns events/s. */
async function window (read: () => number, o: PipelineOptions): Promise<number> {
  await sleep(o.warmup * 1000)
  const c0 = read()
  const t0 = performance.now()
  await sleep(o.seconds * 1000)
  return (read() - c0) / ((performance.now() - t0) / 1000)
}

async function stagewire (fused: boolean, o: PipelineOptions): Promise<RunResult> {
  const thread = fused ? { thread: 'pipeline' } : {}
  const rt = await start({
    codec: o.codec,
    children: [
      { id: 'source', stage: 'producer', module: benchStage('bench-producer'), ...thread },
      { id: 'tag', stage: 'producer_consumer', module: benchStage('bench-tag'), subscribeTo: [{ id: 'source', maxDemand: o.maxDemand }], ...thread },
      { id: 'sink', stage: 'consumer', module: benchStage('bench-sink'), subscribeTo: [{ id: 'tag', maxDemand: o.maxDemand }], ...thread },
    ],
  })
  const heap = new HeapWatch(rt)
  const stage = (id: string): number => rt.stages().find((s) => s.id === id)?.handled ?? 0
  const value = await window(() => stage('sink'), o)
  const produced = await rt.call('source', 'stop') as number
  await until(() => stage('sink') >= produced, DRAIN_MS)
  const consumed = stage('sink')
  const heaps = heap.stop()
  await rt.destroy()
  return { value, extra: { produced, consumed, ...heaps } }
}

async function postMessageChain (o: PipelineOptions): Promise<RunResult> {
  const shared = new SharedArrayBuffer(24)
  const counts = new Float64Array(shared)
  const ab = new MessageChannel()
  const bc = new MessageChannel()
  const url = workerEntry('bench-postmessage-chain')
  const batch = 1000
  const inFlight = 4
  const workers = [
    spawnModuleThread(url, { workerData: { role: 'c', batch, window: inFlight, up: bc.port2, shared }, transferList: [bc.port2] }),
    spawnModuleThread(url, { workerData: { role: 'b', batch, window: inFlight, up: ab.port2, down: bc.port1, shared }, transferList: [ab.port2, bc.port1] }),
    spawnModuleThread(url, { workerData: { role: 'a', batch, window: inFlight, down: ab.port1, shared }, transferList: [ab.port1] }),
  ]
  // Spawning a thread takes tens of ms (from the sources, hundreds): the window starts once all three run.
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))))
  const value = await window(() => counts[0] as number, o)
  counts[2] = 1
  await sleep(20) // A reads the stop flag between batches
  await until(() => counts[0] === counts[1], DRAIN_MS)
  const extra = { produced: counts[1] as number, consumed: counts[0] as number }
  await Promise.all(workers.map((w) => w.terminate()))
  return { value, extra }
}

async function functionPipeline (o: PipelineOptions): Promise<RunResult> {
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
    while (running && performance.now() < until) sink(tag(produce(o.maxDemand)))
    if (running) setImmediate(loop)
  }
  loop()
  const value = await window(() => counted, o)
  running = false
  return { value, extra: { produced: n, consumed: counted, heap_mib_main: process.memoryUsage().heapUsed / 2 ** 20 } }
}

/** Runs one contender once (in the child process). */
export const contenders: Record<string, (o: PipelineOptions) => Promise<RunResult>> = {
  'stagewire-threads': (o) => stagewire(false, o),
  'stagewire-fused': (o) => stagewire(true, o),
  'postmessage-chain': postMessageChain,
  'function-pipeline': functionPipeline,
}
