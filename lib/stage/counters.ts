/**
 * A stage's live counters, in shared memory.
 *
 * Each stage instance gets one small SharedArrayBuffer that the main thread
 * keeps. The stage's own thread writes its counters with plain stores (one
 * writer each); the threads that send it events add to `received` with
 * `Atomics.add`, once per batch. Because the memory outlives the thread, the
 * main thread reads exact figures even after a crash: what a stage received
 * and neither handled nor passed on was lost inside it. No message is needed
 * to read a buffer depth or a pending demand, so metrics cost the data path
 * nothing.
 *
 * Layout: one BigInt64 slot (multi-writer, atomic) then Float64 slots
 * (single writer; exact integers up to 2^53).
 */

/** Float64 slots, by name. */
export const SLOT = {
  /** Events handed to handleEvents (consumers, producer-consumers), or taken by dispatch from pushes (producers). */
  handled: 0,
  /** Events sent downstream (producers, producer-consumers). */
  emitted: 1,
  /** Events dropped by the buffer's overflow policy. */
  dropped: 2,
  /** Events in the buffer now (gauge). */
  buffered: 3,
  /** Events received and not yet handled, waiting in the stage's queues (gauge). */
  queued: 4,
  /** Downstream demand not yet met (gauge). */
  demand: 5,
  /** Callbacks run (handleEvents / handleDemand / tasks). */
  callbacks: 6,
  /** Tasks running now (consumer_supervisor). */
  running: 7,
  /** Tasks that failed after their retries (consumer_supervisor). */
  failed: 8,
} as const

const FLOATS = 9
const BYTES = 8 + FLOATS * 8

/** The counters of one stage instance. */
export class StageCounters {
  readonly buffer: SharedArrayBuffer
  /** Events that reached this stage: pushes, or batches from upstream stages (atomic, multi-writer). */
  readonly #received: BigInt64Array
  /** Single-writer counters and gauges, indexed by {@link SLOT}. */
  readonly f: Float64Array

  constructor (buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer
    this.#received = new BigInt64Array(buffer, 0, 1)
    this.f = new Float64Array(buffer, 8, FLOATS)
  }

  /** Adds to `received`; safe from any thread. */
  addReceived (count: number): void {
    Atomics.add(this.#received, 0, BigInt(count))
  }

  get received (): number {
    return Number(Atomics.load(this.#received, 0))
  }

  /** A plain copy, for stats and metrics. */
  snapshot (): CounterSnapshot {
    const f = this.f
    return {
      received: this.received,
      handled: f[SLOT.handled] as number,
      emitted: f[SLOT.emitted] as number,
      dropped: f[SLOT.dropped] as number,
      buffered: f[SLOT.buffered] as number,
      queued: f[SLOT.queued] as number,
      demand: f[SLOT.demand] as number,
      callbacks: f[SLOT.callbacks] as number,
      running: f[SLOT.running] as number,
      failed: f[SLOT.failed] as number,
    }
  }
}

/** Counter values at one moment. */
export interface CounterSnapshot {
  received: number
  handled: number
  emitted: number
  dropped: number
  buffered: number
  queued: number
  demand: number
  callbacks: number
  running: number
  failed: number
}
