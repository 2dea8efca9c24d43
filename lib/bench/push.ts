/**
 * Scenario `push`: the cost of `runtime.push()` on the caller's thread, ns per call, including the
 * per-tick flush (envelope, batch, encode, postMessage) divided over the events it carries, and the
 * events/s that reach the producer's thread. Baseline in a process of its own: appending the same
 * envelope to an array (the least a push can cost).
 *
 * A tick pushes `batch` events, then yields (setImmediate) so the flush runs; the time measured is
 * the whole tick on the main thread. A fast consumer keeps the producer drained, and the feeder
 * waits for `drain` whenever push returns false, so nothing is dropped: at the end, every pushed
 * event has reached the consumer (`pushed` = `consumed`).
 * @internal
 */
import { start } from '../runtime.js'
import { HeapWatch, benchStage, until } from './common.js'
import type { RunResult } from './harness.js'

/** Options of both contenders. */
export interface PushOptions { batch: number, seconds: number, warmup: number, codec: string }

export const PUSH_CONTENDERS = ['stagewire-push', 'array-push'] as const
export const PUSH_BASELINE = 'array-push'

// A flat 100-char string, as payloads read from JSON, a socket or a file are. `'x'.repeat(100)` is a
// V8 rope (a tree of short pieces, never flattened since nothing here reads it), and every copy of it
// (the codec's string write, JSON.stringify, a socket write) walks that tree again: measured, ~75 ns a
// push more, a cost of how the bench made its string rather than of push(). The array floor never
// reads the string, so it is unaffected.
const PAD = Buffer.alloc(100, 'x').toString('latin1')
const yieldTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function stagewirePush (o: PushOptions): Promise<RunResult> {
  const rt = await start({
    codec: o.codec,
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', bufferSize: 100_000 },
      { id: 'sink', stage: 'consumer', module: benchStage('bench-sink'), subscribeTo: [{ id: 'source', maxDemand: 5000 }] },
    ],
  })
  const heap = new HeapWatch(rt)
  const push = rt.pusher('source')
  const handled = (id: string): number => rt.stages().find((s) => s.id === id)?.handled ?? 0
  const drained = (): Promise<void> => new Promise((resolve) => rt.once('drain', () => resolve()))
  let busy = 0
  let timed = 0
  let pushed = 0
  const warm = performance.now() + o.warmup * 1000
  const deadline = warm + o.seconds * 1000
  let measuredFrom = 0
  let handledAtStart = 0
  while (performance.now() < deadline) {
    const t0 = performance.now()
    let ok = true
    for (let i = 0; i < o.batch; i++) ok = push.push({ n: i, s: PAD })
    await yieldTick() // our flush was scheduled first, so it has run when this resolves
    const t1 = performance.now()
    pushed += o.batch
    if (t0 > warm) {
      if (measuredFrom === 0) { measuredFrom = t0; handledAtStart = handled('source') }
      busy += t1 - t0
      timed += o.batch
    }
    if (!ok) await drained()
  }
  const elapsed = (performance.now() - measuredFrom) / 1000
  const reached = (handled('source') - handledAtStart) / elapsed
  await until(() => handled('sink') >= pushed, 10_000)
  const extra = { reached_per_s: reached, pushed, consumed: handled('sink'), ...heap.stop() }
  await rt.destroy()
  return { value: (busy * 1e6) / timed, extra }
}

async function arrayPush (o: PushOptions): Promise<RunResult> {
  let busy = 0
  let timed = 0
  let pushed = 0
  let consumed = 0
  const warm = performance.now() + o.warmup * 1000
  const deadline = warm + o.seconds * 1000
  let sink: unknown[] = []
  let id = 0
  while (performance.now() < deadline) {
    const t0 = performance.now()
    for (let i = 0; i < o.batch; i++) sink.push({ id: ++id, ts: performance.timeOrigin + performance.now(), payload: { n: i, s: PAD } })
    await yieldTick()
    pushed += o.batch
    if (t0 > warm) {
      busy += performance.now() - t0
      timed += o.batch
    }
    consumed += sink.length
    sink = []
  }
  return { value: (busy * 1e6) / timed, extra: { pushed, consumed } }
}

/** Runs one contender once (in the child process). */
export const contenders: Record<string, (o: PushOptions) => Promise<RunResult>> = {
  'stagewire-push': stagewirePush,
  'array-push': arrayPush,
}
