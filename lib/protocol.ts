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
}

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

/** Control messages from an actor thread to its supervisor. */
export type FromActor =
  | { type: 'ready' }
  | { type: 'init_failed', error: WireError }
  | { type: 'heartbeat' }
  | { type: 'stats', stats: ActorStats }
  | { type: 'shutdown_ack' }
  | { type: 'exit', reason: ExitReasonWire }
  | { type: 'crash', error: WireError, origin: 'uncaughtException' | 'unhandledRejection' }

/** The reply to a call, as data: errors cannot cross comlink with their class and code intact. */
export type CallResult =
  | { ok: true, value: unknown }
  | { ok: false, error: WireError }

/** The object an actor thread exposes to comlink on its call port. */
export interface CallTarget {
  call (request: unknown): Promise<CallResult>
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
