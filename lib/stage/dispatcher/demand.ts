// The demand dispatcher: each event goes to one consumer, the one with the most pending demand.
//
//   dispatch([e1 … e7])            demands (most first)          sends
//   ─────────────────────►   ┌──────────────────────────┐
//                            │ B: 5   A: 3   C: 0       │ ──► B ← e1 … e5   (B: 0, goes last)
//                            │ A: 3   C: 0   B: 0       │ ──► A ← e6 e7     (A: 1)
//                            └──────────────────────────┘
//   leftovers: none (had A had no demand left, e6 e7 would return to the producer's buffer)
//
// GenStage's DemandDispatcher, rule for rule: subscriptions are kept sorted by pending demand; a
// batch goes to the head, up to its demand, and the head is re-inserted after every subscription
// whose demand is greater or equal (so ties are served round robin); then the rest of the batch
// goes to the new head, and so on until no one has demand.
//
// Worked example of the demand contract (the numbers the tests pin):
//   subscribe(A) → 0; subscribe(B) → 0          A: 0, B: 0
//   ask(10, A) → 10 (producer may emit 10)      A: 10, B: 0
//   dispatch(7 events) → A gets 7, leftovers [] A: 3,  B: 0
//   cancel(A) → 0; pending = 3                  the 3 events A asked for are still coming
//   ask(5, B) → 2 (3 of B's 5 are already on their way)
//
// `spread: true` (not in GenStage) divides a batch among every subscription with demand instead:
// GenStage's greedy rule gives a small batch to a single consumer while the others idle
// (dashbitco/broadway#269: 10 events all landing on one of ten idle processors).

import {
  checkAskCount, checkDispatchLength, NO_EVENTS, sliceEvents,
  type DemandDispatcherSnapshot, type Dispatcher, type Outbox, type SubscribeOptions,
} from './dispatcher.js'

/** Options of the {@link DemandDispatcher}. */
export interface DemandDispatcherOptions {
  /**
   * Divide each batch among all subscriptions with demand (water-filling: as even as their demands
   * allow) instead of giving it to the one with most demand first. Default false (GenStage's rule).
   */
  readonly spread?: boolean | undefined
  /**
   * Shuffle subscriptions of equal demand once, before the first dispatch, so that the consumer that
   * happened to subscribe first is not always served first (GenStage's
   * `shuffle_demands_on_first_dispatch`). Default false.
   */
  readonly shuffleOnFirstDispatch?: boolean | undefined
  /** Random source for the shuffle, `[0, 1)`; injectable so tests are deterministic. Default Math.random. */
  readonly random?: (() => number) | undefined
}

interface Entry<S> {
  readonly subscription: S
  demand: number
  /** Spread mode's planned share of the batch being dispatched; 0 otherwise. */
  share: number
}

/**
 * GenStage's default dispatcher: every event goes to exactly one subscription, the one with most
 * pending demand; optionally spread across all subscriptions with demand.
 */
export class DemandDispatcher<S, E> implements Dispatcher<S, E> {
  /** Always `'demand'`. */
  readonly kind = 'demand' as const
  readonly #outbox: Outbox<S, E>
  readonly #spread: boolean
  readonly #random: () => number
  #shuffle: boolean
  /** Sorted by demand, most first; ties in the order they reached that demand. */
  readonly #entries: Entry<S>[] = []
  readonly #bySubscription = new Map<S, Entry<S>>()
  #pending = 0

  /**
   * GenStage's `init`.
   * @throws TypeError when an option has the wrong type.
   */
  constructor(outbox: Outbox<S, E>, options: DemandDispatcherOptions = {}) {
    const { spread = false, shuffleOnFirstDispatch = false, random = Math.random } = options
    if (typeof spread !== 'boolean') throw new TypeError(`options.spread must be a boolean, got ${typeof spread}`)
    if (typeof shuffleOnFirstDispatch !== 'boolean') {
      throw new TypeError(`options.shuffleOnFirstDispatch must be a boolean, got ${typeof shuffleOnFirstDispatch}`)
    }
    if (typeof random !== 'function') throw new TypeError(`options.random must be a function, got ${typeof random}`)
    this.#outbox = outbox
    this.#spread = spread
    this.#shuffle = shuffleOnFirstDispatch
    this.#random = random
  }

  /**
   * Adds `subscription` with no demand, served last among equals. Subscribe options do not apply.
   * @throws Error when `subscription` is already subscribed.
   */
  subscribe(subscription: S, _options?: SubscribeOptions<E>): number {
    if (this.#bySubscription.has(subscription)) throw new Error('subscription is already subscribed to this dispatcher')
    const entry: Entry<S> = { subscription, demand: 0, share: 0 }
    this.#bySubscription.set(subscription, entry)
    this.#entries.push(entry)
    return 0
  }

  /**
   * Removes `subscription`. Its unmet demand was already asked upstream, so it becomes `pending`:
   * the next asks are reduced by it instead of asking upstream twice for the same events.
   */
  cancel(subscription: S): number {
    const entry = this.#bySubscription.get(subscription)
    if (entry === undefined) return 0
    this.#bySubscription.delete(subscription)
    this.#entries.splice(this.#entries.indexOf(entry), 1)
    this.#pending += entry.demand
    return 0
  }

  /**
   * Adds `count` to the subscription's demand. Returns `count` less whatever `pending` covers.
   * @throws RangeError when `count` is not a positive integer.
   */
  ask(count: number, subscription: S): number {
    checkAskCount(count)
    const entry = this.#bySubscription.get(subscription)
    if (entry === undefined) return 0
    const entries = this.#entries
    entries.splice(entries.indexOf(entry), 1)
    entry.demand += count
    this.#insert(entry)
    const alreadyComing = Math.min(this.#pending, count)
    this.#pending -= alreadyComing
    return count - alreadyComing
  }

  /**
   * Sends the batch to the subscription with most demand, then the next, until events or demand
   * run out (or spreads it, with `spread`). Returns the events no one had demand for.
   * @throws RangeError when `length` does not fit `events`.
   */
  dispatch(events: readonly E[], length: number): readonly E[] {
    checkDispatchLength(events, length)
    if (length === 0) return NO_EVENTS
    if (this.#shuffle) {
      this.#shuffle = false
      this.#shuffleTies()
    }
    const sent = this.#spread ? this.#dispatchSpread(events, length) : this.#dispatchGreedy(events, length)
    return sent === length ? NO_EVENTS : events.slice(sent, length)
  }

  /** Nothing is held here, so the message is emitted at once. */
  info(message: unknown): void {
    this.#outbox.info(message)
  }

  /** The whole state: demands in dispatch order, pending, and the spread flag. */
  snapshot(): DemandDispatcherSnapshot<S> {
    return {
      kind: 'demand',
      demands: this.#entries.map(({ subscription, demand }) => ({ subscription, demand })),
      pending: this.#pending,
      spread: this.#spread,
    }
  }

  #dispatchGreedy(events: readonly E[], length: number): number {
    const entries = this.#entries
    let offset = 0
    while (offset < length) {
      const head = entries[0]
      if (head === undefined || head.demand === 0) break
      const count = Math.min(head.demand, length - offset)
      this.#outbox.send(head.subscription, sliceEvents(events, offset, count), count)
      offset += count
      head.demand -= count
      entries.shift()
      this.#insert(head)
    }
    return offset
  }

  // Water-filling: visit the subscriptions with demand from least to most demand, each taking
  // min(its demand, an even share of what is left, rounded down), so that what a small demand cannot
  // take, and the remainder of the division, go to those with more. Then send in the usual order
  // (most demand first).
  #dispatchSpread(events: readonly E[], length: number): number {
    const entries = this.#entries
    let active = 0
    while (active < entries.length && (entries[active] as Entry<S>).demand > 0) active++
    if (active === 0) return 0
    let remaining = length
    for (let i = active - 1; i >= 0; i--) {
      const entry = entries[i] as Entry<S>
      const share = Math.min(entry.demand, Math.floor(remaining / (i + 1)))
      entry.share = share
      remaining -= share
    }
    // Served entries leave the sorted list and are re-inserted one by one, in serving order, by
    // GenStage's rule: the list stays sorted and ties keep rotating.
    const served = entries.splice(0, active)
    let offset = 0
    for (let i = 0; i < active; i++) {
      const entry = served[i] as Entry<S>
      const share = entry.share
      if (share > 0) {
        this.#outbox.send(entry.subscription, sliceEvents(events, offset, share), share)
        offset += share
        entry.demand -= share
        entry.share = 0
      }
      this.#insert(entry)
    }
    return offset
  }

  // GenStage's add_demand: after every entry whose demand is greater or equal. Subscriptions per
  // producer are few (tens), where a linear scan beats a heap and keeps GenStage's tie order exactly.
  #insert(entry: Entry<S>): void {
    const entries = this.#entries
    let i = 0
    while (i < entries.length && (entries[i] as Entry<S>).demand >= entry.demand) i++
    entries.splice(i, 0, entry)
  }

  // Fisher-Yates within each run of equal demand: GenStage shuffles the whole list, which can put a
  // zero-demand consumer at the head and leave events undelivered; shuffling ties keeps the order.
  #shuffleTies(): void {
    const entries = this.#entries
    let start = 0
    while (start < entries.length) {
      const demand = (entries[start] as Entry<S>).demand
      let end = start + 1
      while (end < entries.length && (entries[end] as Entry<S>).demand === demand) end++
      for (let i = end - 1; i > start; i--) {
        const j = start + Math.floor(this.#random() * (i - start + 1))
        const swap = entries[i] as Entry<S>
        entries[i] = entries[j] as Entry<S>
        entries[j] = swap
      }
      start = end
    }
  }
}
