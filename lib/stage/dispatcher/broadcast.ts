// The broadcast dispatcher: every subscription gets every event (that its selector accepts).
//
//                       demand:  A: 10   B: 4   C: 7 (selector: odd only)
//   ask upstream: min = 4  ─────────────────────────────────────────────
//   dispatch([1 … 6])  ──► A ← 1 2 3 4         A: 6
//     deliver 4 = min     ──► B ← 1 2 3 4         B: 0
//     leftovers [5 6]     ──► C ← 1 3             C: 5  (2 and 4 filtered out: never debited)
//                       upstream demand freed by C's filter = min(6, 0, 5) − waiting = 0
//
// GenStage's BroadcastDispatcher asks upstream for the minimum demand across subscriptions and
// sends every event to every subscription. It does so with relative counters: a subscription that
// joins while `waiting` events are on their way starts at −waiting, and those in-flight events are
// sent to it whatever it has asked for. With `demand: :accumulate` and consumers of different
// maxDemand that over-delivers and stalls the pipeline (elixir-lang/gen_stage#310: max 10 and
// max 4, the max-4 consumer is sent 10, takes 4, and 6 are stuck); the later fix that reset
// `waiting` on subscribe asked upstream twice for the same events (gen_stage#318, fixed by #319
// with a third counter).
//
// Here each subscription's demand is what it asked for and has not received, never negative, and
// `waiting` is what was asked upstream and not yet dispatched. A dispatch delivers
// min(length, smallest demand) events to everyone and returns the rest as leftovers, so no
// subscription ever gets more than it asked for, late or not; ask/cancel ask upstream for
// max(0, smallest demand − waiting), so nothing is asked twice.
//
// Selectors: an event a subscription's selector rejects is not debited from its demand (GenStage
// debits it and then re-credits it by sending itself an ask). When that leaves the smallest demand
// above `waiting`, the freed demand goes to `outbox.demand`, otherwise a pipeline whose consumers
// filter out a whole batch would never ask again (gen_stage#133).

import {
  checkAskCount, checkDispatchLength, NO_EVENTS, sliceEvents,
  type BroadcastDispatcherSnapshot, type Dispatcher, type Outbox, type Selector, type SubscribeOptions,
} from './dispatcher.js'

interface Entry<S, E> {
  readonly subscription: S
  readonly selector: Selector<E> | undefined
  demand: number
}

/**
 * Sends every event to every subscription; upstream demand is the smallest demand across them.
 * A subscription may filter with a selector; what it filters out never counts against its demand.
 */
export class BroadcastDispatcher<S, E> implements Dispatcher<S, E> {
  /** Always `'broadcast'`. */
  readonly kind = 'broadcast' as const
  readonly #outbox: Outbox<S, E>
  /** In subscription order, which is the send order. */
  readonly #entries: Entry<S, E>[] = []
  readonly #bySubscription = new Map<S, Entry<S, E>>()
  #waiting = 0

  /** GenStage's `init`; the broadcast dispatcher has no options. */
  constructor(outbox: Outbox<S, E>) {
    this.#outbox = outbox
  }

  /**
   * Adds `subscription` with no demand: until it asks, it holds back every dispatch (every
   * subscription gets every event), and what arrives meanwhile returns to the producer's buffer.
   * @throws Error when already subscribed; TypeError when `options.selector` is not a function.
   */
  subscribe(subscription: S, options: SubscribeOptions<E> = {}): number {
    const { selector } = options
    if (selector !== undefined && typeof selector !== 'function') {
      throw new TypeError(`options.selector must be a function (event) => boolean, got ${typeof selector}`)
    }
    if (this.#bySubscription.has(subscription)) throw new Error('subscription is already subscribed to this dispatcher')
    const entry: Entry<S, E> = { subscription, selector, demand: 0 }
    this.#bySubscription.set(subscription, entry)
    this.#entries.push(entry)
    return 0
  }

  /** Removes `subscription`; if it was the one holding the minimum down, demand may be freed. */
  cancel(subscription: S): number {
    const entry = this.#bySubscription.get(subscription)
    if (entry === undefined) return 0
    this.#bySubscription.delete(subscription)
    this.#entries.splice(this.#entries.indexOf(entry), 1)
    return this.#askUpstream()
  }

  /**
   * Adds `count` to the subscription's demand; returns how far the smallest demand now exceeds what
   * was already asked upstream.
   * @throws RangeError when `count` is not a positive integer.
   */
  ask(count: number, subscription: S): number {
    checkAskCount(count)
    const entry = this.#bySubscription.get(subscription)
    if (entry === undefined) return 0
    entry.demand += count
    return this.#askUpstream()
  }

  /**
   * Sends the first min(length, smallest demand) events to every subscription (filtered by its
   * selector), and returns the rest. A throwing selector propagates, with the subscriptions before
   * it already sent to: the producer is expected to crash and restart.
   * @throws RangeError when `length` does not fit `events`.
   */
  dispatch(events: readonly E[], length: number): readonly E[] {
    checkDispatchLength(events, length)
    if (length === 0) return NO_EVENTS
    const entries = this.#entries
    const deliver = Math.min(length, this.#minDemand())
    // Every event that arrives was asked for or is a spontaneous emission; either way it is no
    // longer owed by upstream, whether it is delivered now or returned as a leftover.
    this.#waiting = Math.max(0, this.#waiting - length)
    if (deliver > 0) {
      // One array shared by every subscription without a selector: a broadcast is built once.
      const batch = sliceEvents(events, 0, deliver)
      let filtered = false
      for (let s = 0; s < entries.length; s++) {
        const entry = entries[s] as Entry<S, E>
        const selector = entry.selector
        if (selector === undefined) {
          entry.demand -= deliver
          this.#outbox.send(entry.subscription, batch, deliver)
          continue
        }
        const selected: E[] = []
        for (let i = 0; i < deliver; i++) {
          const event = batch[i] as E
          if (selector(event)) selected.push(event)
        }
        const count = selected.length
        if (count < deliver) filtered = true
        if (count > 0) {
          entry.demand -= count
          this.#outbox.send(entry.subscription, selected, count)
        }
      }
      if (filtered) {
        const freed = this.#askUpstream()
        if (freed > 0) this.#outbox.demand(freed)
      }
    }
    return deliver === length ? NO_EVENTS : events.slice(deliver, length)
  }

  /** Nothing is held here, so the message is emitted at once. */
  info(message: unknown): void {
    this.#outbox.info(message)
  }

  /** The whole state: subscriptions in send order with their demand, and `waiting`. */
  snapshot(): BroadcastDispatcherSnapshot<S> {
    return {
      kind: 'broadcast',
      subscriptions: this.#entries.map(({ subscription, demand, selector }) => ({
        subscription, demand, selector: selector !== undefined,
      })),
      waiting: this.#waiting,
    }
  }

  /** Asks upstream for what the smallest demand allows beyond `waiting`, and records it. */
  #askUpstream(): number {
    const more = this.#minDemand() - this.#waiting
    if (more <= 0) return 0
    this.#waiting += more
    return more
  }

  // Recomputed rather than cached: subscriptions per producer are few, and a cached minimum would
  // need the same scan on every change to the current minimum's holder anyway.
  #minDemand(): number {
    const entries = this.#entries
    if (entries.length === 0) return 0
    let min = (entries[0] as Entry<S, E>).demand
    for (let s = 1; s < entries.length; s++) {
      const demand = (entries[s] as Entry<S, E>).demand
      if (demand < min) min = demand
    }
    return min
  }
}
