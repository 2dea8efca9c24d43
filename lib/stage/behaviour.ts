/**
 * What a stage module looks like.
 *
 * A stage module is an ES module whose default export (or namespace) has
 * the callbacks of its kind, after GenStage:
 *
 * | kind                | callbacks                                              |
 * |---------------------|--------------------------------------------------------|
 * | `producer`          | `handleDemand(demand, state, ctx) → { events, state }` |
 * | `producer_consumer` | `handleEvents(events, from, state, ctx) → { events, state }` |
 * | `consumer`          | `handleEvents(events, from, state, ctx) → { state }`   |
 *
 * and, for all, `init(args, ctx) → state` and an optional
 * `terminate(reason, state)`. Callbacks may be async; a stage handles one
 * callback at a time, in order.
 *
 * Events are {@link Envelope}s. A stage that transforms events keeps their
 * `id` and `ts` (`{ ...e, payload: f(e.payload) }`), so each event keeps its
 * identity and its push time down to the client. A producer making new
 * events stamps them with `ctx.envelope(payload)`.
 */
import { InvalidArgumentError } from '../errors.js'
import type { ExitReason } from '../actor/behaviour.js'
import type { Envelope } from './envelope.js'

/** GenStage's three stage kinds, and its ConsumerSupervisor (one task per event, at most maxDemand at once). */
export type StageKind = 'producer' | 'producer_consumer' | 'consumer' | 'consumer_supervisor'

/** Where a batch of events came from: the producing stage's id. */
export interface From {
  /** Id of the stage that sent the events. */
  readonly producer: string
}

/** Why a stage itself may drop events (`ctx.dropped`). */
export type StageDropReason = 'undeliverable' | 'pubsub_down'

/** What stage callbacks can use besides their arguments. */
export interface StageContext {
  /** This stage's id. */
  readonly id: string
  /** A new envelope around `payload`, with a fresh id and the current time as its push time. */
  envelope<P> (payload: P, meta?: { topic?: string, event?: string }): Envelope<P>
  /**
   * Producers and producer-consumers: emit events outside a callback (from a timer, a socket, a
   * poll): they are dispatched against the demand there is and buffered beyond it.
   */
  emit?: (events: Envelope[]) => void
  /**
   * Counts `count` events this stage chose not to deliver, reported as `stage:dropped` with reason
   * `undeliverable` (so a drop is never silent), or `pubsub_down` (the broadcaster: not passed on to
   * the other servers). Optional so that test doubles need not have it.
   */
  dropped?: (count: number, reason: StageDropReason) => void
}

/** What a producer or producer-consumer callback returns: events to emit and the new state. */
export interface Emit<State> {
  events?: Envelope[]
  state: State
}

/** What a consumer callback returns: the new state. */
export interface Consume<State> {
  state: State
}

type MaybeAsync<T> = T | Promise<T>

/** What a stage's `handleCall` returns: the reply, the new state, and (producers) events to emit. */
export interface StageCallReply<State> {
  reply: unknown
  state: State
  events?: Envelope[]
}

interface Common<State, Args> {
  /** Builds the initial state. A throw fails the start (ERR_ACTOR_INIT). */
  init? (args: Args, ctx: StageContext): MaybeAsync<State>
  /** Answers `runtime.call(stageId, request)`; a throw goes back to the caller and the stage carries on. */
  handleCall? (request: unknown, state: State, ctx: StageContext): MaybeAsync<StageCallReply<State>>
  /** Runs on a graceful stop. */
  terminate? (reason: ExitReason, state: State): MaybeAsync<void>
}

/** A producer: makes events when asked for them. */
export interface ProducerModule<State = unknown, Args = unknown> extends Common<State, Args> {
  /**
   * Downstream wants `demand` more events. Return up to that many (more are buffered, fewer are
   * fine: the rest of the demand is remembered and events pushed later are sent against it).
   * Optional: a producer fed only by `runtime.push()` needs none.
   */
  handleDemand? (demand: number, state: State, ctx: StageContext): MaybeAsync<Emit<State>>
}

/** A producer-consumer: transforms, filters or multiplies the events it receives. */
export interface ProducerConsumerModule<State = unknown, Args = unknown> extends Common<State, Args> {
  handleEvents (events: Envelope[], from: From, state: State, ctx: StageContext): MaybeAsync<Emit<State>>
}

/** A consumer: the end of a pipeline. */
export interface ConsumerModule<State = unknown, Args = unknown> extends Common<State, Args> {
  handleEvents (events: Envelope[], from: From, state: State, ctx: StageContext): MaybeAsync<Consume<State> | void>
}

/**
 * A limited-concurrency stage (GenStage's ConsumerSupervisor): `run(event)` is one task per
 * event, with at most maxDemand tasks in flight per subscription. What a task returns
 * (an envelope, an array of them, or nothing) goes to the stage's own subscribers, if any.
 * With `tasks.runner: "piscina"` the tasks run in a pool of worker threads and `run` cannot
 * see the stage's state.
 */
export interface ConsumerSupervisorModule<State = unknown, Args = unknown> extends Common<State, Args> {
  run (event: Envelope): MaybeAsync<Envelope | Envelope[] | void>
}

/** Any stage module. */
export type StageModule<State = unknown, Args = unknown> =
  | ProducerModule<State, Args>
  | ProducerConsumerModule<State, Args>
  | ConsumerModule<State, Args>
  | ConsumerSupervisorModule<State, Args>

/** Gives a producer module its types. */
export function defineProducer<State, Args = unknown> (module: ProducerModule<State, Args>): ProducerModule<State, Args> {
  return module
}

/** Gives a producer-consumer module its types. */
export function defineProducerConsumer<State, Args = unknown> (module: ProducerConsumerModule<State, Args>): ProducerConsumerModule<State, Args> {
  return module
}

/** Gives a limited-concurrency (consumer-supervisor) module its types. */
export function defineConsumerSupervisor<State, Args = unknown> (module: ConsumerSupervisorModule<State, Args>): ConsumerSupervisorModule<State, Args> {
  return module
}

/** Gives a consumer module its types. */
export function defineConsumer<State, Args = unknown> (module: ConsumerModule<State, Args>): ConsumerModule<State, Args> {
  return module
}

/**
 * Checks that a loaded module has the callbacks its kind needs.
 * @throws ERR_INVALID_ARGUMENT naming the module and the missing callback.
 */
export function checkStageModule (kind: StageKind, module: Record<string, unknown>, where: string): StageModule {
  for (const name of ['init', 'terminate', 'handleDemand', 'handleEvents', 'handleCall', 'run']) {
    const value = module[name]
    if (value !== undefined && typeof value !== 'function') {
      throw new InvalidArgumentError(`${where}: export "${name}" must be a function, got ${typeof value}`)
    }
  }
  if (kind === 'consumer_supervisor') {
    if (typeof module.run !== 'function') throw new InvalidArgumentError(`${where}: a consumer_supervisor must export run(event), its task`)
    return module as StageModule
  }
  if (kind !== 'producer' && typeof module.handleEvents !== 'function') {
    throw new InvalidArgumentError(`${where}: a ${kind} must export handleEvents(events, from, state, ctx)`)
  }
  if (kind === 'producer' && module.handleEvents !== undefined) {
    throw new InvalidArgumentError(`${where}: a producer receives no events; it exports handleDemand, not handleEvents`)
  }
  return module as StageModule
}
