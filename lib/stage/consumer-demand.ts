// A consumer's side of one subscription: how much to ask, and when (GenStage's maxDemand/minDemand).
//
//   subscribe ── ask(maxDemand) ──►                                  maxDemand 10, minDemand 5
//   ◄── batch of 10 ── receive(10)       outstanding 0
//        chunk 1: e1 … e5  → handleEvents → processed(5) → ask 5      credit 10 − 5 = 5 ≤ 5: refill to 10
//        chunk 2: e6 … e10 → handleEvents → processed(5) → ask 5      again
//
// GenStage's rules (GenStage.Utils.split_batches and consumer_subscribe), exactly:
// - maxDemand defaults to 1000 and must be an integer ≥ 1; minDemand defaults to
//   floor(maxDemand / 2) (Elixir's div(max, 2)) and must be an integer from 0 to maxDemand − 1;
// - the consumer asks for maxDemand when it subscribes;
// - every received batch is handed to the handler in chunks of at most maxDemand − minDemand
//   (chunks never span two received batches);
// - after each chunk the consumer's credit (asked minus handled) drops by the chunk's size, and
//   when it is at or below minDemand the consumer asks for maxDemand − credit, refilling to
//   maxDemand. So max 1000 / min 750 handles a batch of 1000 as four chunks of 250 with an ask of
//   250 after each, and max 10 / min 5 a batch of 10 as two chunks of 5 with an ask of 5 after each.
// GenStage logs and truncates a batch larger than the outstanding demand; here it is a protocol
// violation and throws DemandExceededError before anything changes.

import { DemandExceededError } from '../errors.js'


/** Options of a {@link ConsumerDemand}: GenStage's `max_demand` and `min_demand` subscribe options. */
export interface ConsumerDemandOptions {
  /** Most events in flight on the subscription (asked, not yet handled). Default 1000. */
  readonly maxDemand?: number | undefined
  /** The credit at or below which the consumer asks again. Default floor(maxDemand / 2). */
  readonly minDemand?: number | undefined
}

/** GenStage's default `max_demand`. */
export const DEFAULT_MAX_DEMAND = 1000

/** Where {@link ConsumerDemand.deliver} hands chunks and asks: the stage's handler and its link upstream. */
export interface ChunkSink<E> {
  /** Handle `count` events (`events.length === count`; it may be the received array itself). */
  chunk(events: readonly E[], count: number): void
  /** Ask the producer for `count` more events. */
  ask(count: number): void
}

/** The whole state of a {@link ConsumerDemand}, for tests and introspection. */
export interface ConsumerDemandSnapshot {
  readonly maxDemand: number
  readonly minDemand: number
  /** Asked for and not yet received: the most the producer may still send. */
  readonly outstanding: number
  /** Received and not yet handed to the handler. */
  readonly unprocessed: number
  /** Asked for and not yet handled (GenStage's demand counter): outstanding + unprocessed. */
  readonly credit: number
}

/**
 * The demand accounting of one subscription, consumer side. Pure: it returns the asks to make and
 * leaves sending them to the stage. Use {@link ConsumerDemand.deliver} for synchronous handlers, or
 * `receive` / `processed` when the handler is asynchronous.
 */
export class ConsumerDemand {
  /** Most events in flight (asked, not yet handled). */
  readonly maxDemand: number
  /** The credit at or below which the consumer asks again. */
  readonly minDemand: number
  /** The largest chunk handed to the handler: maxDemand − minDemand. */
  readonly chunkSize: number
  #outstanding = 0
  #unprocessed = 0

  /**
   * Validates as GenStage does.
   * @throws RangeError when maxDemand is not an integer ≥ 1 or minDemand not an integer from 0 to
   *   maxDemand − 1.
   */
  constructor(options: ConsumerDemandOptions = {}) {
    const maxDemand = options.maxDemand ?? DEFAULT_MAX_DEMAND
    if (!Number.isSafeInteger(maxDemand) || maxDemand < 1) {
      throw new RangeError(`options.maxDemand must be a positive integer, got ${String(maxDemand)}`)
    }
    const minDemand = options.minDemand ?? Math.floor(maxDemand / 2)
    if (!Number.isSafeInteger(minDemand) || minDemand < 0 || minDemand >= maxDemand) {
      throw new RangeError(
        `options.minDemand must be an integer from 0 to maxDemand - 1 (${maxDemand - 1}), got ${String(minDemand)}`)
    }
    this.maxDemand = maxDemand
    this.minDemand = minDemand
    this.chunkSize = maxDemand - minDemand
  }

  /** Asked for and not yet received. */
  get outstanding(): number {
    return this.#outstanding
  }

  /** Received and not yet reported processed. */
  get unprocessed(): number {
    return this.#unprocessed
  }

  /**
   * The subscription starts (or restarts, after a resubscribe): forgets everything and returns the
   * first ask, maxDemand.
   */
  start(): number {
    this.#outstanding = this.maxDemand
    this.#unprocessed = 0
    return this.maxDemand
  }

  /**
   * A batch of `count` events arrived. Hand it to the handler in chunks of at most `chunkSize`,
   * calling {@link processed} after each.
   * @throws DemandExceededError when `count` exceeds the outstanding demand (nothing changes);
   *   RangeError when `count` is not a non-negative integer.
   */
  receive(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`received count must be a non-negative integer, got ${String(count)}`)
    }
    if (count > this.#outstanding) throw new DemandExceededError(count, this.#outstanding)
    this.#outstanding -= count
    this.#unprocessed += count
  }

  /**
   * The handler finished a chunk of `count` events. Returns the demand to ask now: when the credit
   * (asked, not yet handled) is at or below minDemand, what refills it to maxDemand; otherwise 0.
   * @throws RangeError when `count` is not a positive integer or exceeds what was received and not
   *   yet processed.
   */
  processed(count: number): number {
    if (!Number.isSafeInteger(count) || count < 1 || count > this.#unprocessed) {
      throw new RangeError(
        `processed count must be an integer from 1 to the ${this.#unprocessed} events received, got ${String(count)}`)
    }
    this.#unprocessed -= count
    const credit = this.#outstanding + this.#unprocessed
    if (credit > this.minDemand) return 0
    const ask = this.maxDemand - credit
    this.#outstanding += ask
    return ask
  }

  /**
   * `receive` the first `count` of `events`, then hand them to `sink.chunk` in chunks of at most
   * `chunkSize`, calling `sink.ask` after a chunk whenever the rules ask. For synchronous handlers;
   * chunks are slices of `events` except when one chunk is the whole array.
   * @throws DemandExceededError as {@link receive}, before any chunk is handled.
   */
  deliver<E>(events: readonly E[], count: number, sink: ChunkSink<E>): void {
    if (count > events.length) {
      throw new RangeError(`received count must not exceed events.length (${events.length}), got ${String(count)}`)
    }
    this.receive(count)
    const size = this.chunkSize
    for (let start = 0; start < count; start += size) {
      const n = Math.min(size, count - start)
      sink.chunk(start === 0 && n === events.length ? events : events.slice(start, start + n), n)
      const ask = this.processed(n)
      if (ask > 0) sink.ask(ask)
    }
  }

  /** The whole state. */
  snapshot(): ConsumerDemandSnapshot {
    return {
      maxDemand: this.maxDemand,
      minDemand: this.minDemand,
      outstanding: this.#outstanding,
      unprocessed: this.#unprocessed,
      credit: this.#outstanding + this.#unprocessed,
    }
  }
}
