/**
 * The cost of `runtime.push()` on the caller's thread: ns per call,
 * including the per-tick flush (envelope, batch, encode, postMessage)
 * divided over the events it carries, and the events/s that reach the
 * producer's thread. Baseline in the same process: appending the same
 * object to an array (the least a push can cost).
 *
 * A tick pushes `--batch` events, then yields (setImmediate) so the flush
 * runs; the time measured is the whole tick on the main thread. A fast
 * consumer keeps the producer drained, and the feeder waits for `drain`
 * whenever push returns false, so nothing is dropped.
 *
 *   node --import tsx benchmarks/push.bench.ts [--batch 1000] [--seconds 3] [--rounds 3] [--codec shape] [--json]
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { start } from '../lib/index.js'
import { alternate, childArgs, progressBar, rate, report } from './support/harness.js'

interface Options { batch: number, seconds: number, codec: string }

const here = import.meta.url
const ext = here.endsWith('.ts') ? 'ts' : 'js'
const PAD = 'x'.repeat(100)
const yieldTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function stagewirePush (o: Options): Promise<{ value: number, extra: Record<string, number> }> {
  const rt = await start({
    codec: o.codec,
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', bufferSize: 100_000 },
      { id: 'sink', stage: 'consumer', module: fileURLToPath(new URL(`./stages/bench-sink.${ext}`, here)), subscribeTo: [{ id: 'source', maxDemand: 5000 }] },
    ],
  })
  const push = rt.pusher('source')
  const drained = (): Promise<void> => new Promise((resolve) => rt.once('drain', () => resolve()))
  let busy = 0
  let pushed = 0
  const deadline = performance.now() + o.seconds * 1000
  const warm = performance.now() + 500
  let measuredFrom = 0
  let handledAtStart = 0
  while (performance.now() < deadline) {
    const t0 = performance.now()
    let ok = true
    for (let i = 0; i < o.batch; i++) ok = push.push({ n: i, s: PAD })
    await yieldTick() // our flush was scheduled first, so it has run when this resolves
    const t1 = performance.now()
    if (t0 > warm) {
      if (measuredFrom === 0) { measuredFrom = t0; handledAtStart = rt.stages().find((s) => s.id === 'source')?.handled ?? 0 }
      busy += t1 - t0
      pushed += o.batch
    }
    if (!ok) await drained()
  }
  const elapsed = (performance.now() - measuredFrom) / 1000
  const reached = ((rt.stages().find((s) => s.id === 'source')?.handled ?? 0) - handledAtStart) / elapsed
  await rt.destroy()
  return { value: (busy * 1e6) / pushed, extra: { reached_per_s: reached } }
}

async function arrayPush (o: Options): Promise<{ value: number, extra: Record<string, number> }> {
  let busy = 0
  let pushed = 0
  const deadline = performance.now() + o.seconds * 1000
  let sink: unknown[] = []
  let id = 0
  while (performance.now() < deadline) {
    const t0 = performance.now()
    for (let i = 0; i < o.batch; i++) sink.push({ id: ++id, ts: performance.timeOrigin + performance.now(), payload: { n: i, s: PAD } })
    await yieldTick()
    busy += performance.now() - t0
    pushed += o.batch
    sink = []
  }
  return { value: (busy * 1e6) / pushed, extra: {} }
}

const contenders = { 'stagewire-push': stagewirePush, 'array-push': arrayPush }

const child = childArgs()
if (child !== undefined) {
  const run = contenders[child.name as keyof typeof contenders]
  report(await run(child.options as Options))
  process.exit(0)
}
const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    codec: { type: 'string', default: 'shape' },
    json: { type: 'boolean', default: false },
  },
})
const options: Options = { batch: Number(values.batch), seconds: Number(values.seconds), codec: values.codec }
const summaries = await alternate(here, Object.keys(contenders), options, Number(values.rounds), progressBar('push'))
console.log(`push: ns per push() on the caller's thread, flush included; ${options.batch} pushes per tick, codec ${options.codec}`)
for (const s of summaries) {
  const reached = s.extra.reached_per_s
  console.log(`${s.name.padEnd(16)} ${s.median.toFixed(0).padStart(6)} ns/push (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})${reached !== undefined ? `  reaching the producer: ${rate(reached)}` : ''}`)
}
if (values.json) console.log(JSON.stringify({ scenario: 'push', options, contenders: summaries }))
