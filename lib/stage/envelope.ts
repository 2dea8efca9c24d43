/**
 * The envelope every event travels in.
 *
 * Stage callbacks receive and return envelopes: `payload` is the app's data,
 * and the rest is what the runtime needs to route and measure it. A stage
 * that transforms an event keeps `id` and `ts` (spread the envelope, change
 * the payload), so the event stays the same event all the way to the
 * client and its latency is measured from its `push()`.
 */
import { performance } from 'node:perf_hooks'

/** An event in flight. */
export interface Envelope<P = unknown> {
  /** Stable id: unique within the runtime that pushed it (a durable queue uses its own ids). */
  id: number | string
  /** Push time in ms since the Unix epoch, with sub-ms precision, comparable across threads and processes. */
  ts: number
  /** Routing topic, for the broadcaster (`user:42`). */
  topic?: string
  /** Event name on the topic (`new_msg`). */
  event?: string
  /** The app's data. */
  payload: P
  /**
   * Durable events only (a producer with `queue: { kind: 'redis-streams' }`): what the broadcaster
   * needs to acknowledge it once it has handed it on (lib/queue/stream-spec.ts, `ackKey`). A stage
   * that transforms events keeps it with the rest (spread the envelope); an event that never reaches
   * the broadcaster is not acknowledged, and is delivered again after the queue's `claimIdleMs`.
   */
  ack?: string
}

/** `performance.timeOrigin`, read once: it is fixed for the thread, and its getter cost ~5 ns a push. */
const TIME_ORIGIN = performance.timeOrigin

/**
 * The clock events are stamped with: wall-clock ms with sub-ms precision.
 * `performance.timeOrigin + performance.now()` is monotonic within a thread
 * and, since every thread's timeOrigin is set from the same wall clock, is
 * comparable across the threads and processes of one machine.
 */
export function now (): number {
  return TIME_ORIGIN + performance.now()
}
