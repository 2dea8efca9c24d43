/**
 * What an actor module looks like, and how one is loaded.
 *
 * An actor module is an ES module whose default export (or whose namespace,
 * when it has no default) provides the callbacks below, after OTP's
 * gen_server: `init(args)` builds the state, `handleCall(request, state)`
 * answers a call and returns the new state, `terminate(reason, state)` runs on
 * a graceful stop. Every callback may be async.
 *
 * @example
 * ```ts
 * import { defineActor } from 'stagewire'
 * export default defineActor({
 *   init: (args: { start: number }) => ({ count: args.start }),
 *   handleCall: (req: 'next', state) => ({ reply: state.count + 1, state: { count: state.count + 1 } }),
 * })
 * ```
 */
import { InvalidArgumentError } from '../errors.js'

/** Why an actor stopped. `normal` and `shutdown` are not failures (a transient child is not restarted). */
export type ExitReason =
  | { kind: 'normal' }
  | { kind: 'shutdown' }
  | { kind: 'error', error: Error }

/** What an actor's callbacks can do besides returning values. */
export interface ActorContext {
  /** The actor's registered name. */
  readonly id: string
  /**
   * Stops this actor after the current callback: `terminate` runs, then the thread ends.
   * `'normal'` (the default) is a clean finish; an Error is a failure the supervisor may restart.
   */
  stop (reason?: 'normal' | Error): void
}

/** A call's answer and the state to keep. */
export interface CallReply<State> {
  reply: unknown
  state: State
}

/** The callbacks of an actor module. All optional: an actor with none just runs its module's top-level code. */
export interface ActorModule<State = unknown, Args = unknown> {
  /** Builds the initial state. A throw or rejection fails the start (ERR_ACTOR_INIT). */
  init? (args: Args, ctx: ActorContext): State | Promise<State>
  /** Answers `runtime.call(id, request)`. A throw is returned to the caller, and the actor keeps running. */
  handleCall? (request: unknown, state: State, ctx: ActorContext): CallReply<State> | Promise<CallReply<State>>
  /** Runs on a graceful stop, within the child's shutdown timeout. */
  terminate? (reason: ExitReason, state: State): void | Promise<void>
  /** Module-specific figures included in the actor's stats reports. */
  stats? (state: State): Record<string, number>
}

/** Identity function that gives an actor module its types. */
export function defineActor<State, Args = unknown> (module: ActorModule<State, Args>): ActorModule<State, Args> {
  return module
}

const CALLBACKS = ['init', 'handleCall', 'terminate', 'stats'] as const

/**
 * Imports an actor module by URL and checks the shape of its exports.
 * @throws ERR_INVALID_ARGUMENT when an exported callback is not a function.
 */
export async function loadActorModule (url: string): Promise<ActorModule> {
  const ns = await import(url) as Record<string, unknown>
  const candidate = (typeof ns.default === 'object' && ns.default !== null) ? ns.default as Record<string, unknown> : ns
  for (const name of CALLBACKS) {
    const value = candidate[name]
    if (value !== undefined && typeof value !== 'function') {
      throw new InvalidArgumentError(`module ${url}: export "${name}" must be a function, got ${typeof value}`)
    }
  }
  return candidate as ActorModule
}
