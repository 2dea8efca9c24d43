/**
 * Every message that crosses a thread boundary in stagewire.
 *
 * ```
 *   main thread (supervisor)                       actor thread (workers/actor.ts)
 *   ────────────────────────                       ───────────────────────────────
 *   new Worker(entry, { workerData: ActorBoot })  ─►  load module, init(args)
 *                                                 ◄─  ready | init_failed{error}
 *                                                 ◄─  heartbeat            (every heartbeatMs)
 *                                                 ◄─  stats{stats}         (every statsMs)
 *                                                 ◄─  metrics{report}      (about every second, and before ending)
 *   shutdown{reason}                              ─►  terminate(reason, state)
 *                                                 ◄─  shutdown_ack, then the thread exits 0
 *                                                 ◄─  exit{reason}         (the actor stopped itself)
 *                                                 ◄─  crash{error, origin} (uncaught throw / rejection), exit 1
 *
 *   call port (comlink, its own MessageChannel)   ─►  call(request) → CallResult
 * ```
 *
 * The control channel is the worker's `parentPort`; it carries lifecycle,
 * liveness and statistics only. Request/reply calls (`runtime.call`) go over a
 * second MessageChannel owned by comlink, so that comlink's own message
 * format never mixes with ours. Stage data (events and demand) never travels
 * on either: it uses direct ports between stage threads (see lib/stage/).
 *
 * Rules:
 * - a receiver handles messages with an exhaustive `switch` on `type`; an
 *   unknown `type` is a {@link ProtocolError} (a version mismatch or a bug);
 * - errors travel as {@link WireError} and are rebuilt with `fromWire`;
 * - after `shutdown_ack`, `exit` or `crash` the actor sends nothing more.
 */
import type { MessagePort } from 'node:worker_threads'
import type { WireError } from './errors.js'
import type { MetricsReport } from './metrics/thread-metrics.js'

/** Why an actor stopped, as OTP sees it: `normal` and `shutdown` are not failures. */
export type ExitReasonWire =
  | { kind: 'normal' }
  | { kind: 'shutdown' }
  | { kind: 'error', error: WireError }

/** Everything an actor thread needs to start, passed as `workerData`. */
export interface ActorBoot {
  /** The actor's registered name (its child id). */
  id: string
  /** `file:` URL of the user module, or `builtin:<name>`. */
  module: string
  /** Passed to the module's `init(args)`; any structured-clonable value. */
  args: unknown
  /** How often the actor sends a heartbeat, in ms. */
  heartbeatMs: number
  /** How often the actor sends its statistics, in ms (0 = never). */
  statsMs: number
  /** The port comlink serves request/reply calls on. */
  callPort: MessagePort
  /** When set, the thread hosts these pipeline stages instead of running `module` as a plain actor. */
  stages?: StageBoot[]
  /** Codec for batches on this thread's subscription and push ports (both ends use the same). */
  codec: string
  /** Seed of the ids this thread gives the envelopes it creates (see lib/stage/ids.ts). */
  idSeed: number
}

/** A function named in a spec as `"./module.js#name"`, resolved to a URL. */
export interface FunctionRef { url: string, name: string }

/** Which dispatcher a producer uses, as resolved from the spec. */
export type DispatcherSpec =
  | { type: 'demand', spread?: boolean }
  | { type: 'broadcast' }
  | { type: 'partition', partitions: number, by: 'hash' | 'key', fn: FunctionRef }

/** Where a consumer_supervisor runs its tasks, and how often a failed one is retried. */
export interface TasksSpec {
  runner: 'inline' | 'piscina'
  maxRetries: number
  /** piscina only: pool size. */
  maxThreads: number
}

/** One stage a thread hosts. */
export interface StageBoot {
  id: string
  kind: 'producer' | 'producer_consumer' | 'consumer' | 'consumer_supervisor'
  /** `file:` URL of the stage module. */
  module: string
  args: unknown
  dispatcher: DispatcherSpec
  /** consumer_supervisor only: where its tasks run. */
  tasks?: TasksSpec
  /** Broadcast producers: hold events until this many consumers have subscribed (GenStage's `demand: :accumulate`). */
  awaitSubscribers?: number
  /**
   * consumer_supervisor with subscribers: a finished task's slot is given back upstream only once
   * its results have left the buffer, so that a slow consumer downstream slows the tasks instead of
   * overflowing the buffer (back-pressure through the stage).
   */
  holdTaskSlots?: boolean
  bufferSize: number
  bufferKeep: 'first' | 'last'
  /** The stage's counters (lib/stage/counters.ts), shared with the main thread. */
  counters: SharedArrayBuffer
}

/** A consumer's subscription options, as they cross to the threads. */
export interface LinkOptionsWire {
  maxDemand: number
  minDemand: number
  cancel: 'permanent' | 'transient' | 'temporary'
  selector?: FunctionRef
  partition?: number
}

/** Wiring instructions from the main thread to a thread hosting stages. */
export type StageControl =
  /** Both stages live in this thread: link them directly. */
  | { type: 'link', side: 'both', ref: number, producer: string, consumer: string, options: LinkOptionsWire }
  /** This thread hosts the producer: `port` is its end; `peerCounters` are the consumer's. */
  | { type: 'link', side: 'producer', ref: number, producer: string, consumer: string, options: LinkOptionsWire, port: MessagePort, peerCounters: SharedArrayBuffer }
  /** This thread hosts the consumer: `port` is its end. */
  | { type: 'link', side: 'consumer', ref: number, producer: string, consumer: string, options: LinkOptionsWire, port: MessagePort }
  /** The thread at the other end of subscription `ref` exited with `reason`. */
  | { type: 'down', ref: number, reason: ExitReasonWire }
  /** `port` carries `runtime.push()` batches to producer `stage`. */
  | { type: 'ingest', stage: string, port: MessagePort }
  /** Producer `stage` should stop waiting for one of its declared subscribers (it went down before subscribing). */
  | { type: 'unawait', stage: string }

/** Main thread → producer thread, on a push port: `n` events encoded in `body`. */
export interface IngestMessage { t: 'events', n: number, body: unknown }

/** Statistics an actor thread reports about itself. */
export interface ActorStats {
  /** Calls handled since start. */
  calls: number
  /** V8 heap in use by the thread, bytes. */
  heapUsed: number
  /** Event-loop utilisation since the previous report, 0..1. */
  elu: number
  /** Module-specific figures from the module's optional `stats(state)`. */
  custom?: Record<string, number>
}

/** Control messages from the supervisor to an actor thread. */
export type ToActor =
  | { type: 'shutdown', reason: 'shutdown' | 'normal' }
  | StageControl

/**
 * Why a stage dropped events: its buffer overflowed, a task failed after its retries, or the stage
 * itself found them undeliverable (`ctx.dropped`, e.g. the broadcaster given an event with no topic),
 * or could not pass them on to the other servers (`pubsub_down`: the broadcaster's cluster adapter).
 */
export type DropReason = 'buffer_full' | 'task_failed' | 'undeliverable' | 'pubsub_down'

/** Dropped events by stage id, then by reason. */
export type DropCounts = Record<string, Partial<Record<DropReason, number>>>

/** Control messages from an actor thread to its supervisor. */
export type FromActor =
  | { type: 'ready' }
  | { type: 'init_failed', error: WireError }
  | { type: 'heartbeat' }
  | { type: 'stats', stats: ActorStats }
  | { type: 'shutdown_ack' }
  | { type: 'exit', reason: ExitReasonWire }
  | { type: 'crash', error: WireError, origin: 'uncaughtException' | 'unhandledRejection' }
  /** Stages dropped events since the last report, by stage and reason (coalesced: at most one report per 100 ms per thread). */
  | { type: 'dropped', counts: DropCounts }
  /** What the thread measured since its previous report (lib/metrics/thread-metrics.ts); only when there is something. */
  | { type: 'metrics', report: MetricsReport }

/** The reply to a call, as data: errors cannot cross comlink with their class and code intact. */
export type CallResult =
  | { ok: true, value: unknown }
  | { ok: false, error: WireError }

/** The object an actor thread exposes to comlink on its call port. */
export interface CallTarget {
  /** `stage` names the stage to ask, in a thread that hosts stages. */
  call (request: unknown, stage?: string): Promise<CallResult>
}

/**
 * Requests the runtime itself answers inside every actor thread, whatever the
 * module. They are objects with a `$` key so they never collide with an
 * app's own requests.
 */
export type BuiltinRequest =
  | { $: 'stats' }
  | { $: 'ping' }

/** True when `request` is one of the runtime's own requests. */
export function isBuiltinRequest (request: unknown): request is BuiltinRequest {
  return typeof request === 'object' && request !== null && '$' in request
}

// ── stage data ports ──────────────────────────────────────────────────────
//
// One MessageChannel per subscription between two stage threads; the main
// thread creates it and hands one end to each side, then never sees its
// traffic. The demand contract on it:
//
//   consumer ── ask{n} ─────────────►  producer     n > 0: n more events wanted
//   consumer ◄──────── events{n, body}  producer    n ≤ what was asked and not yet sent
//
// A worked example (maxDemand 10, minDemand 5): the consumer sends ask{10};
// the producer sends events{10}; the consumer hands 5 to handleEvents, its
// credit falls to 5 (≤ minDemand) so it sends ask{5}; it hands the other 5
// and sends ask{5} again. A producer that receives an ask for a subscription
// it no longer knows ignores it. A consumer that receives more than it asked
// for stops with ERR_DEMAND_EXCEEDED: the contract is broken.

/** Consumer → producer, on a subscription port. */
export interface AskMessage { t: 'ask', n: number }
/** Producer → consumer, on a subscription port: `n` events encoded in `body` by the port's codec. */
export interface EventsMessage { t: 'events', n: number, body: unknown }
/** Everything that travels on a subscription port. */
export type DataMessage = AskMessage | EventsMessage
