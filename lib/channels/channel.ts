/**
 * A channel actor: one per joined (client, topic), living in the endpoint's thread.
 *
 * ```
 *   connection ── join / handleIn / deliver / close ──►  mailbox (bounded, FIFO)
 *                                                          │ one task at a time
 *                                                          ▼
 *                                     module.join / handleIn / handleOut / terminate (sync or async)
 *                                                          │
 *   connection.send(reply | push | phx_error) ◄────────────┘
 * ```
 *
 * The mailbox is what makes callbacks run one at a time: a task starts only when the previous one
 * has finished, awaited if it returned a promise. A synchronous callback runs at once when the
 * mailbox is idle, so an intercepted broadcast handled synchronously keeps its place among the
 * topic's other broadcasts. (Like Phoenix, an intercepted event that has to wait behind a slow async
 * callback can be overtaken by later non-intercepted broadcasts of the same topic, which skip the
 * channel entirely.)
 *
 * Life cycle: `joining` → `joined` → `closed` (or `joining` → `closed` when refused). Once closed the
 * channel is off its topic and out of its connection at once; `terminate` then runs in turn, and the
 * actor is released when its mailbox is empty.
 */
import { InvalidArgumentError } from '../errors.js'
import type {
  AnyChannelModule, Assigns, ChannelSocket, HandleInResult, JoinResult, Reply, TerminateReason,
} from './behaviour.js'
import type { EndpointDrops, EndpointEvents } from './events.js'
import type { Frame } from './outbound.js'
import {
  checkEventName, encodeBinaryPush, encodeBinaryReply, encodeChannelError, encodeErrorReply, encodePush, encodeReply,
} from './serializer.js'
import type { JsonObject, Ref } from './serializer.js'
import type { EventEmitter } from 'eventemitter3'

/** What a channel needs of its connection. @internal */
export interface ChannelConnection {
  readonly id: string
  readonly assigns: Assigns
  readonly hub: ChannelHub
  /** Queues a frame for this client; `key` is the conflation key (the topic) or null. */
  send(data: Frame, key: string | null, binary: boolean): void
  /** Removes `channel` from the connection's topics, if it is still the one registered there. */
  forget(channel: Channel): void
}

/** What a channel needs of its endpoint. @internal */
export interface ChannelHub {
  readonly mailboxSize: number
  readonly drops: EndpointDrops
  readonly events: EventEmitter<EndpointEvents>
  subscribe(channel: Channel): void
  unsubscribe(channel: Channel): void
  /** The actor is done: closed, `terminate` run, mailbox empty. */
  released(channel: Channel): void
}

/** The route a topic matched: its module, and the events it intercepts (null when none). @internal */
export interface ChannelRoute {
  readonly module: AnyChannelModule
  readonly intercept: ReadonlySet<string> | null
}

type Task =
  | { kind: 'join', params: JsonObject, ref: string }
  | { kind: 'in', event: string, payload: JsonObject | Uint8Array, ref: Ref }
  | { kind: 'out', event: string, payload: object | Uint8Array }
  | { kind: 'terminate', reason: TerminateReason }

type Status = 'joining' | 'joined' | 'closed'

/** Marks a task that had nothing to run. */
const SKIP = Symbol('skip')

/**
 * One channel actor. The connection creates it for a `phx_join` and drives it; the app's module
 * sees it as its `socket` ({@link ChannelSocket}). Its methods throw nothing unless noted: whatever a
 * callback throws is contained here.
 *
 * @internal
 */
export class Channel implements ChannelSocket {
  readonly topic: string
  readonly joinRef: string
  readonly route: ChannelRoute
  readonly connection: ChannelConnection
  #state: unknown = undefined
  #status: Status = 'joining'
  /** `join` succeeded, so `terminate` is owed when the channel ends. */
  #joined = false
  readonly #mailbox: Task[] = []
  #running = false
  #released = false

  constructor (connection: ChannelConnection, topic: string, joinRef: string, route: ChannelRoute) {
    this.connection = connection
    this.topic = topic
    this.joinRef = joinRef
    this.route = route
  }

  get id (): string { return this.connection.id }
  get assigns (): Assigns { return this.connection.assigns }

  /** Whether the channel is subscribed to its topic. */
  get isJoined (): boolean { return this.#status === 'joined' }

  /** Whether the channel has ended (left, refused, crashed, or its connection closed). */
  get isClosed (): boolean { return this.#status === 'closed' }

  /**
   * Sends `event` to this client on this channel, with its `join_ref`.
   *
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the payload cannot be encoded, or the
   *   event name is reserved by the protocol (`phx_*`, `chan_reply_*`).
   */
  push (event: string, payload: object | Uint8Array): boolean {
    checkEventName(event)
    if (this.#status !== 'joined') return false
    if (payload instanceof Uint8Array) this.connection.send(encodeBinaryPush(this.joinRef, this.topic, event, payload), this.topic, true)
    else this.connection.send(encodePush(this.joinRef, this.topic, event, payload), this.topic, false)
    return true
  }

  /** Runs the module's `join`. The first task of every channel. */
  join (params: JsonObject, ref: string): void {
    this.#enqueue({ kind: 'join', params, ref }, true)
  }

  /** Queues a client's push for `handleIn`. Returns false when the mailbox is full (nothing queued). */
  handleIn (event: string, payload: JsonObject | Uint8Array, ref: Ref): boolean {
    return this.#enqueue({ kind: 'in', event, payload, ref }, false)
  }

  /** Queues an intercepted broadcast for `handleOut`. Returns false when the mailbox is full. */
  deliver (event: string, payload: object | Uint8Array): boolean {
    return this.#enqueue({ kind: 'out', event, payload }, false)
  }

  /**
   * Ends the channel now: off its topic, out of its connection; `terminate` runs in turn after
   * whatever the mailbox already holds. Idempotent.
   */
  close (reason: TerminateReason): void {
    if (this.#status === 'closed') return
    const wasJoined = this.#status === 'joined'
    this.#status = 'closed'
    if (wasJoined) {
      this.connection.hub.unsubscribe(this)
      this.connection.hub.events.emit('channel:closed', { id: this.connection.id, topic: this.topic, reason })
    }
    this.connection.forget(this)
    // Past the mailbox bound: a terminate is owed whatever the backlog.
    this.#enqueue({ kind: 'terminate', reason }, true)
  }

  #enqueue (task: Task, always: boolean): boolean {
    if (!always && this.#mailbox.length >= this.connection.hub.mailboxSize) return false
    this.#mailbox.push(task)
    if (!this.#running) this.#run()
    return true
  }

  /** Runs tasks until the mailbox is empty or a callback returns a promise (then resumes when it settles). */
  #run (): void {
    this.#running = true
    const mailbox = this.#mailbox
    while (mailbox.length > 0) {
      const task = mailbox.shift() as Task
      let result: unknown
      try {
        result = this.#start(task)
      } catch (err) {
        this.#fail(task, err)
        continue
      }
      if (isPromise(result)) {
        result.then(
          (value) => { this.#settle(task, value); this.#run() },
          (err: unknown) => { this.#fail(task, err); this.#run() })
        return
      }
      this.#settle(task, result)
    }
    this.#running = false
    if (this.#status === 'closed' && !this.#released) {
      this.#released = true
      this.connection.hub.released(this)
    }
  }

  /** Calls the task's callback; returns its result (maybe a promise), or SKIP when there is nothing to call. */
  #start (task: Task): unknown {
    const module = this.route.module
    switch (task.kind) {
      case 'join':
        // Closed before its turn came (a duplicate join, a disconnect): never joined, nothing owed.
        if (this.#status === 'closed') return SKIP
        return module.join(this.topic, task.params, this)
      case 'in':
        if (this.#status !== 'joined') {
          this.#replyError(task.ref, this.#status === 'closed' ? 'channel closed' : 'not joined')
          return SKIP
        }
        return (module.handleIn as NonNullable<AnyChannelModule['handleIn']>)(task.event, task.payload, this.#state, this)
      case 'out':
        if (this.#status !== 'joined') return SKIP
        return (module.handleOut as NonNullable<AnyChannelModule['handleOut']>)(task.event, task.payload, this.#state, this)
      case 'terminate':
        if (!this.#joined || module.terminate === undefined) return SKIP
        this.#joined = false
        return module.terminate(task.reason, this.#state, this)
      default:
        return assertNever(task)
    }
  }

  /** A callback returned: apply its result. A result that cannot be applied counts as the callback's failure. */
  #settle (task: Task, result: unknown): void {
    if (result === SKIP) return
    try {
      switch (task.kind) {
        case 'join': this.#joinDone(task, result); break
        case 'in': this.#inDone(task, result); break
        case 'out': this.#outDone(task, result); break
        case 'terminate': break
        default: assertNever(task)
      }
    } catch (err) {
      this.#fail(task, err)
    }
  }

  #joinDone (task: Extract<Task, { kind: 'join' }>, result: unknown): void {
    const outcome = checkJoinResult(result)
    const hub = this.connection.hub
    if ('error' in outcome) {
      this.#status = 'closed'
      this.connection.forget(this)
      this.connection.send(encodeReply(this.joinRef, task.ref, this.topic, 'error', { ...outcome.details, reason: outcome.error }), null, false)
      hub.events.emit('channel:refused', { id: this.connection.id, topic: this.topic, reason: outcome.error })
      return
    }
    this.#joined = true
    this.#state = outcome.state
    // Closed while `join` ran: `terminate` is already queued behind this task; no reply, no subscription.
    if (this.#status === 'closed') return
    // Encoded before subscribing, so an unserialisable reply fails the join cleanly.
    const reply = encodeReply(this.joinRef, task.ref, this.topic, 'ok', outcome.reply ?? {})
    this.#status = 'joined'
    hub.subscribe(this)
    this.connection.send(reply, null, false)
    hub.events.emit('channel:joined', { id: this.connection.id, topic: this.topic })
  }

  #inDone (task: Extract<Task, { kind: 'in' }>, result: unknown): void {
    if (result === undefined) return
    if (typeof result !== 'object' || result === null) {
      throw new InvalidArgumentError(`handleIn must return { state?, reply? } or nothing, got ${result === null ? 'null' : typeof result}`)
    }
    const { state, reply } = result as HandleInResult<unknown>
    if ('state' in result) this.#state = state
    if (reply === undefined || task.ref === null || this.#status !== 'joined') return
    this.connection.send(encodeChannelReply(this.joinRef, task.ref, this.topic, reply), null, reply.response instanceof Uint8Array)
  }

  #outDone (task: Extract<Task, { kind: 'out' }>, result: unknown): void {
    if (result === null || this.#status !== 'joined') return
    if (result instanceof Uint8Array) {
      this.connection.send(encodeBinaryPush(this.joinRef, this.topic, task.event, result), this.topic, true)
    } else if (typeof result === 'object' && result !== undefined) {
      this.connection.send(encodePush(this.joinRef, this.topic, task.event, result), this.topic, false)
    } else {
      throw new InvalidArgumentError(`handleOut must return a payload object, bytes or null, got ${typeof result}`)
    }
  }

  /** A callback threw or rejected (or its result was unusable): contain it to this channel. */
  #fail (task: Task, error: unknown): void {
    const hub = this.connection.hub
    const id = this.connection.id
    switch (task.kind) {
      case 'join':
        hub.events.emit('channel:crashed', { id, topic: this.topic, callback: 'join', error })
        // Closed while `join` ran (a duplicate join, a disconnect): nobody is waiting for the reply.
        if (this.#status === 'closed') return
        this.#replyErrorTo(this.joinRef, task.ref, 'join crashed')
        hub.events.emit('channel:refused', { id, topic: this.topic, reason: 'join crashed' })
        // `join` itself succeeded and only its reply could not be encoded: `terminate` is owed.
        if (this.#joined) {
          this.close('error')
        } else {
          this.#status = 'closed'
          this.connection.forget(this)
        }
        return
      case 'in':
      case 'out':
        hub.events.emit('channel:crashed', { id, topic: this.topic, callback: task.kind === 'in' ? 'handleIn' : 'handleOut', error })
        if (this.#status === 'closed') return
        // The push that crashed it gets an answer at once instead of a timeout.
        if (task.kind === 'in') this.#replyError(task.ref, 'channel crashed')
        this.#crash()
        return
      case 'terminate':
        hub.events.emit('channel:crashed', { id, topic: this.topic, callback: 'terminate', error })
        return
      default:
        assertNever(task)
    }
  }

  /** Tells the client the channel errored (it rejoins after its back-off), then closes it. */
  #crash (): void {
    this.connection.send(encodeChannelError(this.joinRef, this.topic), null, false)
    this.close('error')
  }

  #replyError (ref: Ref, reason: string): void {
    if (ref !== null) this.#replyErrorTo(this.joinRef, ref, reason)
  }

  #replyErrorTo (joinRef: Ref, ref: string, reason: string): void {
    this.connection.send(encodeErrorReply(joinRef, ref, this.topic, reason), null, false)
  }
}

/** The shape `join` must return; anything else is a bug in the module, reported as a crash. */
function checkJoinResult (result: unknown): JoinResult<unknown> {
  if (typeof result === 'object' && result !== null) {
    if ('error' in result) {
      const { error, details } = result as { error: unknown, details?: unknown }
      if (typeof error === 'string' && (details === undefined || (typeof details === 'object' && details !== null && !Array.isArray(details)))) {
        return result as JoinResult<unknown>
      }
    } else if ('state' in result) {
      return result as JoinResult<unknown>
    }
  }
  throw new InvalidArgumentError('join must return { state, reply? } or { error: string, details? }')
}

function encodeChannelReply (joinRef: string, ref: string, topic: string, reply: Reply): Frame {
  if (reply.status !== 'ok' && reply.status !== 'error') {
    throw new InvalidArgumentError(`reply.status must be "ok" or "error", got ${String(reply.status)}`)
  }
  const response = reply.response
  if (response instanceof Uint8Array) return encodeBinaryReply(joinRef, ref, topic, reply.status, response)
  return encodeReply(joinRef, ref, topic, reply.status, response ?? {})
}

function isPromise (value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function assertNever (value: never): never {
  throw new Error(`unexpected task ${JSON.stringify(value)}`)
}
