/**
 * Envelope ids.
 *
 * Events pushed through `runtime.push()` are numbered by the main thread
 * (1, 2, 3, ...). Events a stage creates itself (`ctx.envelope`) get
 * `seed * 2^32 + n`, where the seed is a random 21-bit number drawn per
 * thread and drawn again every 2^32 events: ids stay exact integers below
 * 2^53 and distinct from pushed ids and from other threads' with
 * overwhelming probability, without any coordination between threads. A
 * durable queue replaces them with its own ids.
 * @internal
 */
import type { Envelope } from './envelope.js'
import { now } from './envelope.js'

const BLOCK = 2 ** 32

/** Hands out envelope ids and stamps envelopes. */
export class IdSource {
  #seed: number
  #next = 0
  #issued = 0

  /** @param seed 0 for the main thread's sequential ids, else a value from {@link randomSeed}. */
  constructor (seed: number) {
    this.#seed = seed
  }

  /** Ids handed out so far (for the main thread's source: events pushed). */
  get issued (): number {
    return this.#issued
  }

  /** The next id. */
  next (): number {
    this.#issued++
    if (this.#next === BLOCK - 1) {
      this.#seed = randomSeed()
      this.#next = 0
    }
    return this.#seed * BLOCK + ++this.#next
  }

  /** A new envelope around `payload`, stamped now. */
  envelope<P> (payload: P, meta?: { topic?: string, event?: string }): Envelope<P> {
    const envelope: Envelope<P> = { id: this.next(), ts: now(), payload }
    if (meta?.topic !== undefined) envelope.topic = meta.topic
    if (meta?.event !== undefined) envelope.event = meta.event
    return envelope
  }
}

/** A random seed from 1 to 2^21 - 1. */
export function randomSeed (): number {
  return 1 + Math.floor(Math.random() * (2 ** 21 - 1))
}
