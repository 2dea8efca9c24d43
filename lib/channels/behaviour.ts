/**
 * The channel module API: what an app writes to decide who may join a topic and what happens on it
 * (the role of a Phoenix `Channel` module).
 *
 * ```
 *   client                         endpoint                         your module
 *   phx_join "user:42" {params} ─► route "user:*" ─────────────────► join(topic, params, socket)
 *                                                                      → { state } | { error }
 *   ◄─ phx_reply ok {reply}  ◄──── subscribe the channel to the topic
 *   push "ping" {..}  ─────────────────────────────────────────────► handleIn(event, payload, state, socket)
 *   ◄─ phx_reply {status, response}                                    → { state?, reply? }
 *   endpoint.broadcast("user:42", "msg", {..})
 *     not intercepted: the same bytes to every subscriber, no callback
 *     intercepted:     ───────────────────────────────────────────► handleOut(event, payload, state, socket)
 *   ◄─ this client's own copy                                          → payload | null (drop)
 *   phx_leave / disconnect / crash ────────────────────────────────► terminate(reason, state, socket)
 * ```
 *
 * Each joined (client, topic) is one channel actor with its own `state`; its callbacks run one at
 * a time, in arrival order, even when they are async. A throw or a rejected promise in `handleIn`
 * or `handleOut` closes that channel only (the client gets `phx_error` and rejoins); in `join` it
 * refuses the join with `{reason: "join crashed"}`.
 */
import { InvalidArgumentError } from '../errors.js'
import type { JsonObject } from './serializer.js'

/** What the connect token carried (the verified token's data), readable by every callback. */
export interface Assigns { readonly [key: string]: unknown }

/** A value or a promise of it: every callback may be sync or async. */
export type MaybePromise<T> = T | Promise<T>

/**
 * The view of one joined (client, topic) that callbacks receive: Phoenix's `socket` argument.
 * It stays valid after the callback returns (an async task may keep it and push later).
 */
export interface ChannelSocket<A extends object = Assigns> {
  /** The connection's id (unique within its endpoint): what `endpoint.disconnect(id)` takes. */
  readonly id: string
  /** The verified connect token's data (an object token data as is; any other value as `{ data }`). */
  readonly assigns: A
  /** The topic this channel joined, e.g. `user:42`. */
  readonly topic: string
  /** The client's ref for this join; per-client pushes carry it so a later rejoin drops stale ones. */
  readonly joinRef: string
  /**
   * Sends `event` to this client only, on this channel. Returns false (and sends nothing) while
   * `join` has not succeeded yet (as in Phoenix, push from `join` is not possible: the client is not
   * joined until it has the reply), and once the channel is closed or its connection is gone.
   *
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the payload is not a plain object or
   *   bytes, or cannot be serialised to JSON, or the event name is reserved (`phx_*`, `chan_reply_*`).
   */
  push(event: string, payload: object | Uint8Array): boolean
}

/** A successful join: the channel's initial state, and an optional response for the client. */
export interface JoinOk<S> {
  state: S
  /** Sent as the `response` of the `phx_reply` with status `ok` (default `{}`); must serialise to a JSON object. */
  reply?: object
}

/** A refused join: the client gets `phx_reply` `{status: "error", response: {...details, reason: error}}`. */
export interface JoinRefused {
  error: string
  /** Extra fields of the response, next to `reason`; must serialise to JSON. */
  details?: object
}

/** What `join` returns. */
export type JoinResult<S> = JoinOk<S> | JoinRefused

/** A reply to a client's push. A `Uint8Array` response is sent as a binary reply frame. */
export interface Reply {
  status: 'ok' | 'error'
  /** A JSON-serialisable object (default `{}`), or bytes. One that cannot be serialised counts as the callback's crash. */
  response?: object | Uint8Array
}

/**
 * What `handleIn` returns: the new state (omit `state` to keep the old one) and an optional reply.
 * Returning nothing keeps the state and sends no reply (the client's push then times out, as in
 * Phoenix when `handle_in` returns `{:noreply, socket}`).
 */
export interface HandleInResult<S> {
  state?: S
  reply?: Reply
}

/**
 * Why a channel ended, as `terminate` is told:
 * `leave` the client left; `disconnect` its connection closed; `duplicate_join` the client joined
 * the same topic again on the same connection (the new join replaces this one); `shutdown` the
 * endpoint is closing; `error` a callback of this channel threw or rejected.
 */
export type TerminateReason = 'leave' | 'disconnect' | 'duplicate_join' | 'shutdown' | 'error'

/**
 * A channel module. `S` is the channel's state, `A` the shape of the token data in `socket.assigns`.
 * Only `join` is required.
 */
export interface ChannelModule<S = unknown, A extends object = Assigns> {
  /**
   * Decides whether this client may join `topic`, and with what initial state. This is where
   * authorisation per topic lives: refuse `user:42` to anyone whose token is not user 42's.
   */
  join(topic: string, params: JsonObject, socket: ChannelSocket<A>): MaybePromise<JoinResult<S>>
  /** A client's push on the joined topic. Without it, pushes are answered `{reason: "unknown event"}`. */
  handleIn?(event: string, payload: JsonObject | Uint8Array, state: S, socket: ChannelSocket<A>): MaybePromise<HandleInResult<S> | undefined | void>
  /**
   * Broadcast events this module rewrites per client with `handleOut`. Only these are serialised per
   * client; every other broadcast is serialised once and its bytes shared by all subscribers.
   */
  intercept?: readonly string[]
  /** An intercepted broadcast, for one client: return the payload to send (changed or not), or null to drop it. */
  handleOut?(event: string, payload: object | Uint8Array, state: S, socket: ChannelSocket<A>): MaybePromise<object | Uint8Array | null>
  /** The channel ended (see {@link TerminateReason}); release what `join` acquired. Errors here are reported, not raised. */
  terminate?(reason: TerminateReason, state: S, socket: ChannelSocket<A>): MaybePromise<void>
}

/**
 * A channel module of any state and assigns, as the endpoint's routes hold them. (Callbacks are
 * declared as methods, so a `ChannelModule<MyState>` is assignable to it.)
 */
export type AnyChannelModule = ChannelModule<unknown, object>

/**
 * Declares a channel module: checks its shape now, so a typo fails at start-up instead of at the
 * first join, and gives its callbacks their types.
 *
 * ```ts
 * export default defineChannel<{ seen: number }, { userId: number }>({
 *   join (topic, _params, socket) {
 *     return topic === `user:${socket.assigns.userId}` ? { state: { seen: 0 } } : { error: 'unauthorized' }
 *   },
 * })
 * ```
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` as {@link checkChannelModule}.
 */
export function defineChannel<S, A extends object = Assigns> (module: ChannelModule<S, A>): ChannelModule<S, A> {
  checkChannelModule(module, 'channel module')
  return module
}

/**
 * Checks that `module` is a channel module: `join` a function; `handleIn`, `handleOut` and
 * `terminate` functions when present; `intercept` an array of event names, with `handleOut`
 * required when it is not empty.
 *
 * @param where names the module in the message (`options.channels[1]`).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` naming the place and what is wrong.
 */
export function checkChannelModule (module: unknown, where: string): asserts module is AnyChannelModule {
  if (typeof module !== 'object' || module === null) {
    throw new InvalidArgumentError(`${where} must be an object with a join function, got ${module === null ? 'null' : typeof module}`)
  }
  const m = module as Record<string, unknown>
  if (typeof m.join !== 'function') throw new InvalidArgumentError(`${where}.join must be a function, got ${typeof m.join}`)
  for (const name of ['handleIn', 'handleOut', 'terminate']) {
    if (m[name] !== undefined && typeof m[name] !== 'function') {
      throw new InvalidArgumentError(`${where}.${name} must be a function when present, got ${typeof m[name]}`)
    }
  }
  if (m.intercept !== undefined) {
    if (!Array.isArray(m.intercept) || !m.intercept.every((e) => typeof e === 'string' && e.length > 0)) {
      throw new InvalidArgumentError(`${where}.intercept must be an array of event names (non-empty strings)`)
    }
    if (m.intercept.length > 0 && typeof m.handleOut !== 'function') {
      throw new InvalidArgumentError(`${where}.intercept lists events but ${where}.handleOut is missing`)
    }
  }
}
