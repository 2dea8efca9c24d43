/**
 * A built-in feed for when there is no recording: market data in the shape of the Coinbase feed
 * (`l2update`, `match`, `ticker` on product ids such as `QRX-USD`), over K keys whose popularity is
 * skewed like real feeds (Zipf: the key of rank r gets weight 1 / r^skew).
 *
 * ```
 *   seed ─► key names (K, fixed per seed) and a price per key
 *        ─► per event: a key (Zipf), a type (90% l2update, 8% match, 2% ticker), a price walk,
 *           a time (Poisson arrivals at `rate` events/s of feed time)
 *        ─► Pacer (speed) ─► FeedEvent { key, time, event }
 * ```
 *
 * Deterministic: the same options (seed and startTime included) give the same events, in every
 * iteration.
 */
import { InvalidArgumentError } from '../errors.js'
import { checkSpeed, describe } from './feed.js'
import type { FeedEvent, Speed } from './feed.js'
import { Pacer } from './pacer.js'
import { prng } from './prng.js'

/** Options of {@link FeedGenerator}; all optional. */
export interface GeneratorOptions {
  /** How many keys (default 20, at most 10,000). */
  keys?: number
  /** Events per second of feed time (default 1000); at `speed` X they come X times as fast. */
  rate?: number
  /** Times faster than `rate`, or `'max'` (default 1). */
  speed?: Speed
  /** PRNG seed, a uint32 (default 1). */
  seed?: number
  /** Zipf exponent of key popularity (default 1.1; 0 = uniform). */
  skew?: number
  /** Stop after this many events (default: never). */
  count?: number
  /** Time of the first event, ms since the epoch (default `Date.now()` when constructed). */
  startTime?: number
  /** Ends the iteration (a pending sleep ends at once). */
  signal?: AbortSignal
}

/** A key and its share of the events (the shares add up to 1). */
export interface KeyWeight { key: string, weight: number }

const QUOTES = ['USD', 'EUR', 'GBP', 'BTC']
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const MAX_KEYS = 10_000

/** Per key: what the price walk and the counters are at. */
interface KeyState {
  price: number
  sequence: number
  tradeId: number
}

/**
 * A synthetic market-data feed, as an async iterable of {@link FeedEvent}s.
 *
 * ```ts
 * const feed = new FeedGenerator({ keys: 50, rate: 5000, seed: 7 })
 * feed.keys[0].key          // the most popular key, known before the first event
 * for await (const { key, time, event } of feed) { ... }
 * ```
 */
export class FeedGenerator implements AsyncIterable<FeedEvent> {
  /** Every key, the most popular first, with its expected share: what `scanKeys` gives for a recording. */
  readonly keys: readonly KeyWeight[]
  readonly #cumulative: Float64Array
  readonly #rate: number
  readonly #speed: Speed
  readonly #seed: number
  readonly #count: number
  readonly #startTime: number
  readonly #signal: AbortSignal | undefined
  #emitted = 0

  /** @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` an option is invalid (`options.keys must be ...`). */
  constructor (options: GeneratorOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describe(options)}`)
    const k = options.keys ?? 20
    if (!Number.isSafeInteger(k) || k < 1 || k > MAX_KEYS) throw new InvalidArgumentError(`options.keys must be an integer from 1 to ${MAX_KEYS}, got ${describe(options.keys)}`)
    this.#rate = options.rate ?? 1000
    if (typeof this.#rate !== 'number' || !Number.isFinite(this.#rate) || this.#rate <= 0) {
      throw new InvalidArgumentError(`options.rate must be a positive number of events per second, got ${describe(options.rate)}`)
    }
    this.#speed = checkSpeed(options.speed ?? 1)
    this.#seed = options.seed ?? 1
    if (!Number.isInteger(this.#seed) || this.#seed < 0 || this.#seed > 0xffffffff) {
      throw new InvalidArgumentError(`options.seed must be an integer from 0 to 4294967295, got ${describe(options.seed)}`)
    }
    const skew = options.skew ?? 1.1
    if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0) throw new InvalidArgumentError(`options.skew must be a number >= 0, got ${describe(options.skew)}`)
    this.#count = options.count ?? Number.POSITIVE_INFINITY
    if (options.count !== undefined && (!Number.isSafeInteger(options.count) || options.count < 0)) {
      throw new InvalidArgumentError(`options.count must be a non-negative integer, got ${describe(options.count)}`)
    }
    this.#startTime = options.startTime ?? Date.now()
    if (typeof this.#startTime !== 'number' || !Number.isFinite(this.#startTime)) {
      throw new InvalidArgumentError(`options.startTime must be ms since the epoch, got ${describe(options.startTime)}`)
    }
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(`options.signal must be an AbortSignal, got ${describe(options.signal)}`)
    }
    this.#signal = options.signal

    const names = keyNames(k, prng(this.#seed ^ 0x9e3779b9))
    const weights = new Float64Array(k)
    let total = 0
    for (let r = 0; r < k; r++) total += weights[r] = 1 / (r + 1) ** skew
    this.#cumulative = new Float64Array(k)
    const keys: KeyWeight[] = []
    let sum = 0
    for (let r = 0; r < k; r++) {
      const w = (weights[r] as number) / total
      sum += w
      this.#cumulative[r] = sum
      keys.push({ key: names[r] as string, weight: w })
    }
    this.#cumulative[k - 1] = 1
    this.keys = keys
  }

  /** Events emitted by the latest iteration so far. */
  get emitted (): number {
    return this.#emitted
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<FeedEvent> {
    const random = prng(this.#seed)
    const keys = this.keys
    const cumulative = this.#cumulative
    const states: KeyState[] = []
    for (let i = 0; i < keys.length; i++) {
      // Prices spread over 0.01 .. 50,000, log-uniform, as an exchange's listing.
      states.push({ price: Math.exp(Math.log(0.01) + random() * Math.log(5_000_000)), sequence: 1e8 + Math.floor(random() * 1e9), tradeId: Math.floor(random() * 1e7) })
    }
    const meanGapMs = 1000 / this.#rate
    const signal = this.#signal
    const pacer = new Pacer(this.#speed, signal)
    let time = this.#startTime
    this.#emitted = 0
    for (let n = 0; n < this.#count; n++) {
      if (n > 0) time += -Math.log(1 - random()) * meanGapMs
      const rank = pick(cumulative, random())
      const key = (keys[rank] as KeyWeight).key
      const event = marketEvent(key, states[rank] as KeyState, time, random)
      for (let wait = pacer.due(time); wait !== null; wait = pacer.due(time)) await wait
      if (signal !== undefined && isAborted(signal)) return
      this.#emitted++
      yield { key, time, event }
    }
  }
}

/** The index of the first cumulative weight above `u` (binary search). */
function pick (cumulative: Float64Array, u: number): number {
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (u < (cumulative[mid] as number)) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** One event for `key`, moving its price a little; the fields follow Coinbase's feed. */
function marketEvent (key: string, state: KeyState, time: number, random: () => number): Record<string, unknown> {
  state.price *= 1 + (random() - 0.5) * 0.001
  state.sequence++
  const side = random() < 0.5 ? 'buy' : 'sell'
  const price = formatPrice(state.price)
  const size = (Math.exp(random() * 8) / 100).toFixed(4)
  const iso = new Date(time).toISOString()
  const kind = random()
  if (kind < 0.9) return { type: 'l2update', product_id: key, changes: [[side, price, size]], time: iso }
  state.tradeId++
  if (kind < 0.98) {
    return { type: 'match', trade_id: state.tradeId, side, size, price, product_id: key, sequence: state.sequence, time: iso }
  }
  const spread = state.price * 0.0005
  return {
    type: 'ticker', sequence: state.sequence, product_id: key, price, best_bid: formatPrice(state.price - spread),
    best_ask: formatPrice(state.price + spread), side, time: iso, trade_id: state.tradeId, last_size: size,
  }
}

function formatPrice (price: number): string {
  return price.toFixed(price >= 1000 ? 2 : price >= 1 ? 4 : 8)
}

/** `count` distinct product ids such as `QRX-USD`. */
function keyNames (count: number, random: () => number): string[] {
  const names = new Set<string>()
  while (names.size < count) {
    const length = 3 + Math.floor(random() * 3)
    let base = ''
    for (let i = 0; i < length; i++) base += LETTERS[Math.floor(random() * LETTERS.length)]
    names.add(`${base}-${QUOTES[Math.floor(random() * QUOTES.length)] as string}`)
  }
  return [...names]
}

/** Read through a call: TypeScript keeps `signal.aborted` narrowed across awaits otherwise. */
function isAborted (signal: AbortSignal): boolean {
  return signal.aborted
}
