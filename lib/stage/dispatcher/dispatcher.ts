// The dispatcher contract: how a producer hands events to its subscriptions.
//
//   consumer ── subscribe / ask(n) / cancel ──► ┌────────────┐ ── outbox.send(sub, events, count) ──► consumer
//   producer ── dispatch(events, length) ─────► │ Dispatcher │ ── outbox.demand(n)  (a deferred ask) ─► producer
//   producer ── info(message) ────────────────► │   (pure)   │ ── outbox.info(message) ─────────────► producer
//                                               └────────────┘
//   returns: subscribe / ask / cancel → demand to ask upstream (buffer first, then handleDemand)
//            dispatch → leftovers, which the producer keeps in its bounded buffer (lib/stage/buffer.ts)
//
// It is GenStage's six-callback dispatcher behaviour (init, subscribe, cancel, ask, dispatch, info),
// written as classes whose constructor is `init`. A dispatcher is a pure state machine: it never
// touches a thread, a port, a timer or a clock, so the same instance works whether the consumers
// sit behind MessagePorts or are direct calls in the same thread, and tests drive it by hand.
//
// The demand contract every implementation keeps (a worked example is in demand.ts):
// - `subscribe`, `cancel` and `ask` return the number of events the producer may now produce
//   (GenStage's "demand to ask upstream"); the producer takes them from its buffer first and asks
//   `handleDemand` for the rest.
// - `dispatch` never sends a subscription more events than it asked for and has not received.
//   Events nobody has demand for come back as leftovers, in order; the producer buffers them and
//   offers them again when demand returns.
// - Per subscription, events are sent in the order they were dispatched.
// - `ask` or `cancel` for a subscription the dispatcher does not know is ignored and returns 0:
//   across threads an ask can race the cancel of its own subscription, and dropping it is the
//   only answer that cannot over-deliver.

/**
 * Where a dispatcher's output goes. A pure machine cannot send, so it calls this instead; a stage
 * actor implements it with `port.postMessage` or direct calls, tests with a recorder.
 *
 * The dispatcher calls it synchronously from inside `dispatch`, `ask` and `info`; an implementation
 * must not call back into the same dispatcher from inside these methods (defer, as GenStage does by
 * sending a message to itself).
 */
export interface Outbox<S, E> {
  /**
   * Deliver `count` events to `subscription`, in order. `events.length === count` always; the array
   * may be shared with other subscriptions (broadcast) and with the caller of `dispatch`, so the
   * receiver must treat it as read-only.
   */
  send(subscription: S, events: readonly E[], count: number): void
  /**
   * Upstream demand that the dispatcher freed on its own, outside `subscribe`/`cancel`/`ask`: the
   * broadcast dispatcher re-credits events a selector filtered out. Treat it exactly like demand
   * returned by `ask` (take from the buffer, then `handleDemand`), but deferred to the next turn of
   * the mailbox; GenStage sends itself an `ask` message for the same reason.
   */
  demand(count: number): void
  /**
   * An info message (see {@link Dispatcher.info}) whose turn has come: every event dispatched before
   * it has been sent to its consumer.
   */
  info(message: unknown): void
}

/** A broadcast subscription's filter: the subscription receives only events it returns true for. */
export type Selector<E> = (event: E) => boolean

/**
 * Options a consumer gives when it subscribes. One shape for every dispatcher so that a producer can
 * pass them through without knowing its dispatcher; each dispatcher validates what concerns it and
 * ignores the rest (as GenStage passes every unknown subscribe option to the dispatcher).
 */
export interface SubscribeOptions<E> {
  /** Broadcast only: receive only the events this returns true for (resolved in the producer's thread). */
  readonly selector?: Selector<E> | undefined
  /** Partition only: the partition index (0 .. partitions - 1) this subscription consumes. Required there. */
  readonly partition?: number | undefined
}

/** One subscription's pending demand, as the demand dispatcher orders them (next served first). */
export interface DemandEntrySnapshot<S> {
  readonly subscription: S
  readonly demand: number
}

/** The whole state of a {@link DemandDispatcher}, for tests and introspection. */
export interface DemandDispatcherSnapshot<S> {
  readonly kind: 'demand'
  /** In dispatch order: most demand first, ties in the order they reached that demand. */
  readonly demands: readonly DemandEntrySnapshot<S>[]
  /** Demand of cancelled subscriptions that upstream still owes: later asks are reduced by it. */
  readonly pending: number
  readonly spread: boolean
}

/** One broadcast subscription's state. */
export interface BroadcastEntrySnapshot<S> {
  readonly subscription: S
  /** Events asked for and not yet sent (filtered-out events never count). */
  readonly demand: number
  readonly selector: boolean
}

/** The whole state of a {@link BroadcastDispatcher}, for tests and introspection. */
export interface BroadcastDispatcherSnapshot<S> {
  readonly kind: 'broadcast'
  /** In subscription order, which is also the send order. */
  readonly subscriptions: readonly BroadcastEntrySnapshot<S>[]
  /** Events already asked upstream and not yet dispatched. */
  readonly waiting: number
}

/** One partition's state. */
export interface PartitionEntrySnapshot<S> {
  readonly partition: number
  readonly subscription: S | undefined
  /** Events asked for and not yet sent. Zero while `queued` is non-zero. */
  readonly demand: number
  /** Events routed to this partition before it had demand for them, kept in order. */
  readonly queued: number
}

/** The whole state of a {@link PartitionDispatcher}, for tests and introspection. */
export interface PartitionDispatcherSnapshot<S> {
  readonly kind: 'partition'
  readonly partitions: readonly PartitionEntrySnapshot<S>[]
  /** Events already asked upstream and not yet dispatched. */
  readonly waiting: number
  /** Demand of cancelled subscriptions that upstream still owes: later asks are reduced by it. */
  readonly pending: number
  /** Info messages still waiting for queued events ahead of them. */
  readonly infos: number
}

/** A snapshot of any dispatcher, discriminated by `kind`. */
export type DispatcherSnapshot<S> =
  | DemandDispatcherSnapshot<S>
  | BroadcastDispatcherSnapshot<S>
  | PartitionDispatcherSnapshot<S>

/** The dispatcher kinds a producer can be configured with. */
export type DispatcherKind = DispatcherSnapshot<unknown>['kind']

/**
 * GenStage's dispatcher behaviour. `S` is the caller's opaque subscription handle (compared by
 * identity, as a Map key); `E` is the event type. `init` is the implementing class's constructor,
 * which takes an {@link Outbox} and the dispatcher's options.
 */
export interface Dispatcher<S, E> {
  readonly kind: DispatcherKind
  /**
   * A consumer subscribed. Returns the demand to ask upstream (0 for every built-in dispatcher: a
   * consumer's demand arrives with its first `ask`).
   * @throws Error when `subscription` is already subscribed; TypeError/RangeError for bad options.
   */
  subscribe(subscription: S, options?: SubscribeOptions<E>): number
  /** A subscription ended (cancelled or its consumer went down). Returns the demand to ask upstream. */
  cancel(subscription: S): number
  /**
   * `subscription` asks for `count` more events. Returns the demand to ask upstream.
   * @throws RangeError when `count` is not a positive integer.
   */
  ask(count: number, subscription: S): number
  /**
   * Hand the first `length` events of `events` to the subscriptions with demand, through
   * `outbox.send`. Returns the events no subscription had demand for, in order (a shared empty
   * array when there are none). The caller must not mutate `events` afterwards: the dispatcher may
   * pass it, or its prefix, to `send` without copying.
   */
  dispatch(events: readonly E[], length: number): readonly E[]
  /**
   * Emit `message` through `outbox.info` once every event dispatched before it has been sent to a
   * consumer (GenStage's `sync_info`/`async_info`): immediately, unless the dispatcher itself holds
   * events (partition queues). Events in the producer's buffer are the producer's to order.
   */
  info(message: unknown): void
  /** A copy of the whole state; allocates, so it is for tests and introspection, not the hot path. */
  snapshot(): DispatcherSnapshot<S>
}

/** The leftovers returned when every event found demand: shared, frozen, never mutated. */
export const NO_EVENTS: readonly never[] = Object.freeze([])

/**
 * Checks an ask's count. Internal to the dispatchers.
 * @throws RangeError when `count` is not a positive safe integer.
 * @internal
 */
export function checkAskCount(count: number): void {
  if (!(count > 0) || !Number.isSafeInteger(count)) {
    throw new RangeError(`ask count must be a positive integer, got ${String(count)}`)
  }
}

/**
 * Checks `dispatch`'s length against its events. Internal to the dispatchers.
 * @throws RangeError when `length` is not an integer from 0 to `events.length`.
 * @internal
 */
export function checkDispatchLength(events: readonly unknown[], length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > events.length) {
    throw new RangeError(`dispatch length must be an integer from 0 to events.length (${events.length}), got ${String(length)}`)
  }
}

/**
 * `events[start .. start + count)`, without copying when that is the whole array. Internal.
 * @internal
 */
export function sliceEvents<E>(events: readonly E[], start: number, count: number): readonly E[] {
  return start === 0 && count === events.length ? events : events.slice(start, start + count)
}
