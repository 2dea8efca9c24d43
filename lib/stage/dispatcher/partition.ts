// The partition dispatcher: a key picks one of N partitions, each consumed by one subscription.
//
//   dispatch([a1 b1 a2 c1 b2])      hash: a→0  b→1  c→2
//        │                  ┌───────────────┬────────────┬─────────────────┐
//        └── route ───────► │ P0 demand 5   │ P1 demand 1│ P2 no consumer  │
//                           │ send a1 a2    │ send b1    │ queue: c1       │
//                           │               │ queue: b2  │                 │
//                           └───────────────┴────────────┴─────────────────┘
//   a queue is served first when its partition asks again; per key, events arrive in order
//
// GenStage's PartitionDispatcher, rule for rule, except where noted. Upstream is asked for what
// each consumer asks (the sum of demands, less what cancelled subscriptions left `pending`), and
// `waiting` counts what was asked and not yet dispatched. A dispatch routes only the first
// min(length, waiting) events; the rest are leftovers for the producer's buffer. A routed event
// goes to its partition's consumer if that partition has demand and nothing queued before it, and
// otherwise joins that partition's queue, so it is neither dropped nor sent out of turn.
//
// Why the queues are bounded: only events upstream was asked for are routed, so the events queued
// across all partitions never exceed the demand the consumers have asked for and not received
// (plus `pending`); exactly, queued = Σ demand + pending − waiting. With consumers that follow the
// demand protocol (at most maxDemand outstanding each), the queues hold at most Σ maxDemand
// events. The flip side, as GenStage warns: a partition that lags or has no consumer holds events
// that other partitions' demand paid for, and once its queue reaches that demand the others wait.
//
// Differences from GenStage:
// - cancel keeps the partition's queue for the next subscription to that partition (a restarted
//   consumer resubscribes to the same partition and continues in order); GenStage discards the
//   queued events and asks upstream to replace them;
// - a hash result that is not a partition throws before anything is routed (the producer
//   crashes, loudly); GenStage logs it and discards the event;
// - the hash returns the partition only; GenStage's also returns a (possibly rewritten) event.

import { EventBuffer, MAX_BUFFER_SIZE } from '../buffer.js'
import {
  checkAskCount, checkDispatchLength, NO_EVENTS,
  type Dispatcher, type Outbox, type PartitionDispatcherSnapshot, type SubscribeOptions,
} from './dispatcher.js'

/** Options of the {@link PartitionDispatcher}: the partition count and exactly one of `hash` or `key`. */
export interface PartitionDispatcherOptions<E> {
  /** Number of partitions, named 0 .. partitions − 1. */
  readonly partitions: number
  /** Maps an event to its partition index (an integer from 0 to partitions − 1). */
  readonly hash?: ((event: E) => number) | undefined
  /** Maps an event to a key, which {@link hashKey} turns into a partition: same key, same partition. */
  readonly key?: ((event: E) => string | number) | undefined
}

/**
 * The partition of `key` among `partitions`: a non-negative integer key modulo `partitions`
 * (sequential ids spread evenly), anything else by the 32-bit FNV-1a hash of its string form,
 * mixed by murmur3's finalizer (FNV's low bits alone spread poorly over a few partitions).
 */
export function hashKey(key: string | number, partitions: number): number {
  if (typeof key === 'number' && Number.isSafeInteger(key) && key >= 0) return key % partitions
  const text = typeof key === 'string' ? key : String(key)
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return (hash >>> 0) % partitions
}

interface InfoRecord {
  readonly message: unknown
  /** Partitions whose queue still holds events dispatched before the message. */
  remaining: number
}

interface Marker {
  /** The message's turn comes once this many events have left the partition's queue. */
  readonly at: number
  readonly info: InfoRecord
}

interface Partition<S, E> {
  subscription: S | undefined
  /** Asked for and not yet sent; zero while the queue holds events. */
  demand: number
  readonly queue: EventBuffer<E>
  /** Events that ever entered / left the queue: positions for info markers. */
  enqueued: number
  dequeued: number
  readonly markers: Marker[]
  /** The batch being built for this partition during a dispatch. */
  out: E[] | undefined
}

/**
 * Routes each event to one of N partitions by a key, one subscription per partition; events for a
 * partition without demand wait in that partition's queue, so per-key order is kept and nothing is
 * dropped.
 */
export class PartitionDispatcher<S, E> implements Dispatcher<S, E> {
  /** Always `'partition'`. */
  readonly kind = 'partition' as const
  readonly #outbox: Outbox<S, E>
  readonly #hash: (event: E) => number
  readonly #partitions: Partition<S, E>[] = []
  readonly #bySubscription = new Map<S, Partition<S, E>>()
  #waiting = 0
  #pending = 0
  #infos = 0
  /** Each routed event's partition, reused across dispatches so routing allocates nothing. */
  #routes = new Int32Array(64)

  /**
   * GenStage's `init`.
   * @throws RangeError when `partitions` is not a positive integer; TypeError unless exactly one of
   *   `hash` and `key` is a function.
   */
  constructor(outbox: Outbox<S, E>, options: PartitionDispatcherOptions<E>) {
    const { partitions, hash, key } = options
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 0x7fffffff) {
      throw new RangeError(`options.partitions must be a positive integer, got ${String(partitions)}`)
    }
    if ((hash === undefined) === (key === undefined)) {
      throw new TypeError('options must have exactly one of hash (event => partition) and key (event => key)')
    }
    if (hash !== undefined && typeof hash !== 'function') {
      throw new TypeError(`options.hash must be a function, got ${typeof hash}`)
    }
    if (key !== undefined && typeof key !== 'function') {
      throw new TypeError(`options.key must be a function, got ${typeof key}`)
    }
    this.#outbox = outbox
    this.#hash = hash ?? ((event: E) => hashKey((key as (event: E) => string | number)(event), partitions))
    for (let p = 0; p < partitions; p++) {
      this.#partitions.push({
        subscription: undefined, demand: 0,
        // Bounded by the outstanding demand (see the header); the buffer's own limit is a backstop.
        queue: new EventBuffer<E>({ bufferSize: MAX_BUFFER_SIZE, bufferKeep: 'first' }),
        enqueued: 0, dequeued: 0, markers: [], out: undefined,
      })
    }
  }

  /**
   * Attaches `subscription` to `options.partition`. Events already queued there wait for its first ask.
   * @throws TypeError when `options.partition` is missing; RangeError when it is not a partition;
   *   Error when the partition is taken or `subscription` is already subscribed.
   */
  subscribe(subscription: S, options: SubscribeOptions<E> = {}): number {
    const { partition: index } = options
    const count = this.#partitions.length
    if (index === undefined) throw new TypeError('options.partition is required when subscribing to a partition dispatcher')
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(`options.partition must be an integer from 0 to ${count - 1}, got ${String(index)}`)
    }
    if (this.#bySubscription.has(subscription)) throw new Error('subscription is already subscribed to this dispatcher')
    const partition = this.#partitions[index] as Partition<S, E>
    if (partition.subscription !== undefined) throw new Error(`partition ${index} is already taken by another subscription`)
    partition.subscription = subscription
    this.#bySubscription.set(subscription, partition)
    return 0
  }

  /**
   * Detaches `subscription`. Its unmet demand becomes `pending` (those events are still coming);
   * its queue stays for the partition's next subscription.
   */
  cancel(subscription: S): number {
    const partition = this.#bySubscription.get(subscription)
    if (partition === undefined) return 0
    this.#bySubscription.delete(subscription)
    partition.subscription = undefined
    this.#pending += partition.demand
    partition.demand = 0
    return 0
  }

  /**
   * Serves the partition's queue first, keeps the rest as demand, and asks upstream for `count`
   * less what `pending` covers: queued events were fetched on other partitions' demand, so they
   * do not reduce what upstream is asked (as GenStage).
   * @throws RangeError when `count` is not a positive integer.
   */
  ask(count: number, subscription: S): number {
    checkAskCount(count)
    const partition = this.#bySubscription.get(subscription)
    if (partition === undefined) return 0
    let rest = count
    const queued = partition.queue.length
    if (queued > 0) {
      const n = Math.min(queued, count)
      this.#outbox.send(subscription, partition.queue.take(n), n)
      partition.dequeued += n
      rest -= n
      if (partition.markers.length > 0) this.#passMarkers(partition)
    }
    partition.demand += rest
    const alreadyComing = Math.min(this.#pending, count)
    this.#pending -= alreadyComing
    const demand = count - alreadyComing
    this.#waiting += demand
    return demand
  }

  /**
   * Routes the first min(length, waiting) events to their partitions, sends each partition its
   * share (up to its demand, one batch per partition), queues the rest per partition, and returns
   * the events beyond `waiting`.
   * @throws RangeError when `length` does not fit `events` or the hash returns no partition (then
   *   nothing has changed); Error when a queue passes its backstop limit.
   */
  dispatch(events: readonly E[], length: number): readonly E[] {
    checkDispatchLength(events, length)
    const now = Math.min(length, this.#waiting)
    if (now > 0) {
      const routes = this.#route(events, now)
      this.#waiting -= now
      const partitions = this.#partitions
      for (let i = 0; i < now; i++) {
        const partition = partitions[routes[i] as number] as Partition<S, E>
        const event = events[i] as E
        // Demand and a queue never coexist (ask drains the queue before it adds demand), so an
        // event with demand cannot overtake queued events of its partition.
        if (partition.demand > 0) {
          if (partition.out === undefined) partition.out = [event]
          else partition.out.push(event)
          partition.demand--
        } else {
          if (partition.queue.pushOne(event) !== 0) {
            throw new Error(`partition ${routes[i] as number} queue is full (${MAX_BUFFER_SIZE} events)`)
          }
          partition.enqueued++
        }
      }
      for (let p = 0; p < partitions.length; p++) {
        const partition = partitions[p] as Partition<S, E>
        const out = partition.out
        if (out !== undefined) {
          partition.out = undefined
          this.#outbox.send(partition.subscription as S, out, out.length)
        }
      }
    }
    return now === length ? NO_EVENTS : events.slice(now, length)
  }

  /**
   * Emits `message` once every partition queue has sent the events it holds now; at once when all
   * queues are empty. Messages come out in the order they went in.
   */
  info(message: unknown): void {
    let record: InfoRecord | undefined
    const partitions = this.#partitions
    for (let p = 0; p < partitions.length; p++) {
      const partition = partitions[p] as Partition<S, E>
      if (partition.queue.length === 0) continue
      record ??= { message, remaining: 0 }
      record.remaining++
      partition.markers.push({ at: partition.enqueued, info: record })
    }
    if (record === undefined) this.#outbox.info(message)
    else this.#infos++
  }

  /** The whole state: each partition's subscription, demand and queue length; waiting, pending, infos. */
  snapshot(): PartitionDispatcherSnapshot<S> {
    return {
      kind: 'partition',
      partitions: this.#partitions.map(({ subscription, demand, queue }, partition) => ({
        partition, subscription, demand, queued: queue.length,
      })),
      waiting: this.#waiting,
      pending: this.#pending,
      infos: this.#infos,
    }
  }

  /** Hashes the first `count` events into the reused routes array, validating every result first. */
  #route(events: readonly E[], count: number): Int32Array {
    if (this.#routes.length < count) {
      let size = this.#routes.length
      while (size < count) size *= 2
      this.#routes = new Int32Array(size)
    }
    const routes = this.#routes
    const hash = this.#hash
    const partitions = this.#partitions.length
    for (let i = 0; i < count; i++) {
      const p = hash(events[i] as E)
      if (!(p >= 0 && p < partitions) || (p | 0) !== p) {
        throw new RangeError(`the partition hash returned ${String(p)} for the event at index ${i}; partitions are 0 to ${partitions - 1}`)
      }
      routes[i] = p
    }
    return routes
  }

  /** Emits the info messages whose events have all left this partition's queue. */
  #passMarkers(partition: Partition<S, E>): void {
    const markers = partition.markers
    while (markers.length > 0 && (markers[0] as Marker).at <= partition.dequeued) {
      const info = (markers.shift() as Marker).info
      if (--info.remaining === 0) {
        this.#infos--
        this.#outbox.info(info.message)
      }
    }
  }
}
