/**
 * Paces a feed by its recorded times.
 *
 * ```
 *   event i is due at   wallStart + (time_i - time_0) / speed
 *   due(time_i):  ahead of schedule by >= 1 ms ─► a sleep until then
 *                 on time or late             ─► null: emit now (a late feed emits back to back
 *                                                 until it is on schedule again)
 * ```
 *
 * The schedule is absolute (measured from the first event), so timer lateness never accumulates.
 * Out-of-order times are emitted at once. Whatever the speed, every {@link YIELD_EVERY} events
 * emitted without a sleep get one turn of the event loop (`setImmediate`): a feed that is behind,
 * or at `'max'`, would otherwise run on microtasks only and starve timers and I/O of its own thread.
 * @internal
 */
import { performance } from 'node:perf_hooks'
import type { Speed } from './feed.js'

/** Events emitted back to back before the pacer yields a turn of the event loop. */
export const YIELD_EVERY = 1024

/** Node's longest timer; a longer sleep is taken in several. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** @internal Schedules the events of one pass of a feed. */
export class Pacer {
  readonly #rate: number
  readonly #signal: AbortSignal | undefined
  #wallStart = Number.NaN
  #timeStart = 0
  #sinceYield = 0

  constructor (speed: Speed, signal?: AbortSignal) {
    this.#rate = speed === 'max' ? Number.POSITIVE_INFINITY : speed
    this.#signal = signal
  }

  /**
   * What to await before emitting the event recorded at `time` (ms): a promise, or null when it
   * may go now. Call again after awaiting: a long sleep comes in parts. Returns null once the
   * signal is aborted (the caller checks it).
   */
  due (time: number): Promise<void> | null {
    const signal = this.#signal
    if (signal !== undefined && signal.aborted) return null
    if (this.#rate !== Number.POSITIVE_INFINITY) {
      const now = performance.now()
      if (Number.isNaN(this.#wallStart)) {
        this.#wallStart = now
        this.#timeStart = time
      }
      const delay = this.#wallStart + (time - this.#timeStart) / this.#rate - now
      if (delay >= 1) {
        this.#sinceYield = 0
        return sleep(Math.min(delay, MAX_TIMER_MS), signal)
      }
    }
    if (++this.#sinceYield >= YIELD_EVERY) {
      this.#sinceYield = 0
      return new Promise((resolve) => setImmediate(resolve))
    }
    return null
  }

  /** Starts a new schedule: the next event is due at once (a new pass of a looped recording). */
  reset (): void {
    this.#wallStart = Number.NaN
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done (): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
