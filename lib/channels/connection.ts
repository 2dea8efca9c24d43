/**
 * One client connection: its WebSocket, its channels (one per joined topic), its outbound queue.
 *
 * ```
 *   ws 'message' ─► decodeFrame ─┬─ topic "phoenix": heartbeat ─► phx_reply ok
 *                                ├─ phx_join  ─► route ─► new Channel ─► module.join ─► phx_reply ok|error
 *                                ├─ phx_leave ─► phx_reply ok, channel.close('leave')
 *                                ├─ event     ─► channel.handleIn ─► phx_reply (optional)
 *                                └─ bad frame ─► phx_reply error {reason: "bad frame"} when it has a ref,
 *                                                else close 1007 with the reason
 *   send(frame) ─► OutboundQueue.offer (limit, policy) ─► hub.markDirty ─► flush(): cork, every
 *   pending frame, uncork: one write per connection per tick
 * ```
 *
 * Listeners are module-level functions that find the connection through a symbol on the emitter,
 * as `ws` does, so 10,000 connections do not carry 40,000 closures.
 */
import { Buffer } from 'node:buffer'
import type { Duplex } from 'node:stream'
import type { EventEmitter } from 'eventemitter3'
import type { RawData, WebSocket } from 'ws'
import { FrameError, TopicError } from '../errors.js'
import type { Assigns } from './behaviour.js'
import { Channel } from './channel.js'
import type { ChannelConnection, ChannelHub, ChannelRoute } from './channel.js'
import { CLOSE_CODES } from './events.js'
import type { DisconnectReason, EndpointEvents } from './events.js'
import { OVER_LIMIT, OutboundQueue, frameHeaderBytes } from './outbound.js'
import type { Frame, LatencySink, OutboundPolicy } from './outbound.js'
import {
  CHANNEL_EVENTS, PHOENIX_TOPIC, decodeFrame, encodeHeartbeatReply, encodeReply,
} from './serializer.js'
import type { BinaryMessage, JsonObject, TextMessage } from './serializer.js'
import { routeTopic, validateTopic } from './topics.js'
import type { CompiledRoutes } from './topics.js'

/** Counters a connection adds to. @internal */
export interface WriteCounters {
  messagesSent: number
  delivered: number
  bytesSent: number
  writes: number
}

/** What a connection needs of its endpoint. @internal */
export interface ConnectionHub extends ChannelHub {
  readonly routes: CompiledRoutes<ChannelRoute>
  readonly maxChannels: number
  readonly outboundLimit: number
  readonly policy: OutboundPolicy
  readonly counters: WriteCounters
  readonly events: EventEmitter<EndpointEvents>
  /** Where deliveries' push-to-write latency goes, if anywhere. */
  readonly latency: LatencySink | null
  /** The time of the current flush slice (ms epoch), read once per slice rather than per frame. */
  readonly flushTime: number
  /** The pending bytes over which `writable()` last waited for a client (Infinity before any call). */
  readonly writableMark: number
  /** Schedules `conn.flush()` for the next slice. */
  markDirty(conn: Connection): void
  /** A channel actor was created. */
  started(channel: Channel): void
  /** The connection is gone (its socket closed); exactly once. */
  closed(conn: Connection, reason: DisconnectReason, code: number, message: string, error: unknown): void
}

/**
 * The reasons of error replies the endpoint itself sends, as `{status: "error", response: {reason, detail?}}`.
 * `reason` is short and stable (code can match it); `detail`, when present, explains it to a person.
 */
export const REPLY_REASONS = {
  unmatchedTopic: 'unmatched topic',
  tooManyChannels: 'too many channels',
  notJoined: 'not joined',
  unknownEvent: 'unknown event',
  badFrame: 'bad frame',
  mailboxFull: 'mailbox full',
  joinCrashed: 'join crashed',
  channelCrashed: 'channel crashed',
  channelClosed: 'channel closed',
} as const

// A close frame's reason is at most 123 bytes (RFC 6455 section 5.5: 125 bytes of payload, 2 of them the code).
const CLOSE_REASON_MAX_BYTES = 123
const OPEN = 1

const kConnection = Symbol('stagewire.connection')
type Tagged<T> = T & { [kConnection]?: Connection }

/**
 * One accepted WebSocket. Its methods throw nothing unless noted: a bad frame gets a reply or a close,
 * and anything unexpected closes this connection only (1011, `socket:closed` with the error).
 *
 * @internal
 */
export class Connection implements ChannelConnection {
  readonly id: string
  readonly assigns: Assigns
  readonly hub: ConnectionHub
  readonly ws: WebSocket
  readonly socket: Duplex
  /** Channels by topic: joined, or joining. */
  readonly channels = new Map<string, Channel>()
  readonly queue = new OutboundQueue()
  /** `Date.now()` of the last frame received: the idle sweep reads it. */
  lastSeen: number
  /** Listed for the next flush slice. */
  dirty = false
  /** The socket's buffer is past its high-water mark: wait for 'drain' before writing more. */
  blocked = false
  /** No more reads or writes: the endpoint closed it, or its socket closed. */
  isClosed = false
  /** Frames dropped for this client by the outbound policy. */
  drops = 0
  /** The most bytes ever queued for this client (pending plus socket-buffered). */
  peakBytes = 0
  #reason: DisconnectReason | undefined
  #code = 0
  #message = ''
  #error: unknown = undefined

  constructor (hub: ConnectionHub, ws: WebSocket, socket: Duplex, id: string, assigns: Assigns) {
    this.hub = hub
    this.ws = ws
    this.socket = socket
    this.id = id
    this.assigns = assigns
    this.lastSeen = Date.now()
    ;(ws as Tagged<WebSocket>)[kConnection] = this
    ;(socket as Tagged<Duplex>)[kConnection] = this
    ws.on('message', wsOnMessage)
    ws.on('close', wsOnClose)
    ws.on('error', wsOnError)
    socket.on('drain', socketOnDrain)
  }

  /** Timed broadcast frames handed to it, this server's and other servers' (see ConnectionInfo). */
  offered = 0
  offeredRemote = 0
  /** When (performance.now()) its pending bytes last rose past the hub's `writable` mark; 0 while under it. */
  overSince = 0
  /** Set once it has been over that mark longer than the grace: the hub no longer waits for it. */
  released = false

  /** It is (back) under the hub's mark: a later fall behind starts a grace of its own. */
  underMark (): void {
    this.overSince = 0
    this.released = false
  }

  /** Bytes queued for this client now: pending frames plus what its socket holds. */
  get pendingBytes (): number {
    return this.queue.bytes + this.ws.bufferedAmount
  }

  /**
   * Queues a frame of known size (a broadcast computes it once for all subscribers).
   * Applies the outbound limit and policy; under `disconnect`, closes the connection instead.
   */
  enqueue (data: Frame, bytes: number, key: string | null, binary: boolean, ts = 0, remote = false): void {
    if (this.isClosed) return
    if (ts > 0) {
      if (remote) this.offeredRemote++
      else this.offered++
    }
    const hub = this.hub
    const buffered = this.ws.bufferedAmount
    const dropped = this.queue.offer(data, bytes, key, binary, buffered, hub.outboundLimit, hub.policy, hub.drops, ts)
    if (dropped === OVER_LIMIT) {
      this.close(CLOSE_CODES.outboundLimit, 'outbound_limit', `outbound limit of ${hub.outboundLimit} bytes exceeded`)
      return
    }
    this.drops += dropped
    const pending = this.queue.bytes + buffered
    if (pending > this.peakBytes) this.peakBytes = pending
    if (!this.dirty && !this.blocked && this.queue.length > 0) hub.markDirty(this)
  }

  /** Queues a frame (a reply, a per-client push). */
  send (data: string | Buffer, key: string | null, binary: boolean): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length
    this.enqueue(data, size + frameHeaderBytes(size), key, binary)
  }

  /**
   * Writes every pending frame in one corked write. Called by the hub's flush slices; skipped while
   * the socket waits for 'drain', so a slow client's backlog stays in the queue, where the policy
   * can still drop or conflate it.
   */
  flush (): void {
    this.dirty = false
    if (this.isClosed || this.blocked || this.queue.length === 0) return
    if (this.ws.readyState !== OPEN) {
      this.queue.clear()
      return
    }
    const socket = this.socket
    const counters = this.hub.counters
    counters.bytesSent += this.queue.bytes
    // Corked, all pending frames leave in a single writev (one plain write when there is one).
    socket.cork()
    const { written, timed } = this.queue.writeTo(this, this.hub.latency, this.hub.flushTime)
    socket.uncork()
    counters.messagesSent += written
    counters.delivered += timed
    counters.writes++
    if (socket.writableNeedDrain) this.blocked = true
  }

  /** FrameSink: a frame for ws to frame (replies, per-client pushes). */
  sendFrame (data: string | Buffer, options: { binary: boolean }): void {
    this.ws.send(data, options)
  }

  /**
   * FrameSink: a broadcast's ready-framed bytes, straight to the socket. Safe beside ws's own
   * writes because ws sends synchronously here (no permessage-deflate, no Blob payloads), so
   * nothing of ws's can be queued behind or in front of these bytes; flush() checked the socket is
   * open; ws's bufferedAmount counts them (it reads the socket's buffer).
   */
  writeFramed (bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Removes `channel` from this connection if it is still the one registered for its topic. */
  forget (channel: Channel): void {
    if (this.channels.get(channel.topic) === channel) this.channels.delete(channel.topic)
  }

  /**
   * Closes the connection with a code and a reason the client sees, and ends its channels now.
   * Idempotent. The hub hears of it once the socket has closed.
   */
  close (code: number, reason: DisconnectReason, message: string): void {
    if (this.isClosed) return
    // What is already queued (a last broadcast, the reply to the frame that got it closed) goes out
    // before the close frame; except when the queue itself is the reason.
    if (reason !== 'outbound_limit') this.flush()
    this.#closing(reason, code, message)
    this.ws.close(code, closeReason(message))
  }

  /** Ends the connection at once, without a closing handshake (a client that does not read would never complete it). */
  terminate (): void {
    if (!this.isClosed) this.#closing('shutdown', CLOSE_CODES.shutdown, 'terminated')
    this.ws.terminate()
  }

  /** Handles one frame from the client. */
  receive (data: Buffer, isBinary: boolean): void {
    if (this.isClosed) return
    this.lastSeen = Date.now()
    let message: TextMessage | BinaryMessage
    try {
      message = decodeFrame(data, isBinary)
    } catch (err) {
      if (!(err instanceof FrameError)) throw err
      this.#badFrame(err)
      return
    }
    const { topic, event } = message
    if (topic === PHOENIX_TOPIC) {
      if (event === CHANNEL_EVENTS.heartbeat) {
        if (message.ref !== null) this.send(encodeHeartbeatReply(message.ref), null, false)
      } else {
        this.#replyError(message, REPLY_REASONS.unknownEvent, `topic "phoenix" takes only "heartbeat", got "${event}"`)
      }
      return
    }
    switch (event) {
      case CHANNEL_EVENTS.join: this.#join(message); return
      case CHANNEL_EVENTS.leave: this.#leave(message); return
      case CHANNEL_EVENTS.reply:
      case CHANNEL_EVENTS.close:
      case CHANNEL_EVENTS.error:
        this.#replyError(message, REPLY_REASONS.unknownEvent, `"${event}" is sent by the server, not to it`)
        return
      default: this.#push(message)
    }
  }

  /** The socket closed (either side): end the channels, tell the hub. */
  onClosed (code: number, message: string): void {
    if (!this.isClosed) this.#closing(this.#reason ?? 'client', code, message)
    this.hub.closed(this, this.#reason ?? 'client', this.#code, this.#message, this.#error)
  }

  /** ws reported a protocol error (it then closes the socket itself). */
  onError (err: Error): void {
    if (this.#reason !== undefined) return
    const code = (err as Error & { code?: unknown }).code
    this.#reason = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'frame_too_large' : 'bad_frame'
    this.#message = err.message
    this.#code = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CLOSE_CODES.frameTooLarge : CLOSE_CODES.badFrame
  }

  /** Something unexpected threw while handling this connection: close it, keep the endpoint going. */
  fail (error: unknown): void {
    if (this.isClosed) return
    this.#error = error
    this.close(CLOSE_CODES.internalError, 'error', 'internal error')
  }

  /** The socket drained: resume writing. */
  onDrain (): void {
    this.blocked = false
    // Caught up while nobody polled (no events to send, so no writable() call): its next fall
    // behind is a new one, with a grace of its own, not the continuation of the last.
    if (this.overSince !== 0 && this.pendingBytes <= this.hub.writableMark) this.underMark()
    if (!this.dirty && this.queue.length > 0) this.hub.markDirty(this)
  }

  #closing (reason: DisconnectReason, code: number, message: string): void {
    this.isClosed = true
    if (this.#reason === undefined || this.#reason === 'client') {
      this.#reason = reason
      this.#code = code
      this.#message = message
    }
    this.queue.clear()
    const terminateReason = reason === 'shutdown' ? 'shutdown' : 'disconnect'
    for (const channel of [...this.channels.values()]) channel.close(terminateReason)
  }

  #badFrame (err: FrameError): void {
    this.hub.events.emit('frame:invalid', { id: this.id, error: err })
    const replyTo = err.replyTo
    if (replyTo !== undefined) {
      this.send(encodeReply(replyTo.joinRef, replyTo.ref, replyTo.topic, 'error', { reason: REPLY_REASONS.badFrame, detail: err.message }), null, false)
      return
    }
    // No ref to answer: the client cannot be told through a reply, so through the close.
    this.close(CLOSE_CODES.badFrame, 'bad_frame', err.message)
  }

  #join (message: TextMessage | BinaryMessage): void {
    const { topic, ref } = message
    if (ref === null) {
      this.close(CLOSE_CODES.badFrame, 'bad_frame', `phx_join to "${topic.slice(0, 40)}" without a ref`)
      return
    }
    if (message.payload instanceof Uint8Array) {
      this.#replyError(message, REPLY_REASONS.badFrame, 'phx_join params must be a JSON object, not binary')
      return
    }
    try {
      validateTopic(topic, 'topic')
    } catch (err) {
      if (!(err instanceof TopicError)) throw err
      this.#refuse(message, REPLY_REASONS.unmatchedTopic, err.message)
      return
    }
    // As Phoenix: a second join of a topic on one connection replaces the first.
    this.channels.get(topic)?.close('duplicate_join')
    const hub = this.hub
    if (this.channels.size >= hub.maxChannels) {
      this.#refuse(message, REPLY_REASONS.tooManyChannels, `a connection may join at most ${hub.maxChannels} channels`)
      return
    }
    const match = routeTopic(hub.routes, topic)
    if (match === undefined) {
      this.#refuse(message, REPLY_REASONS.unmatchedTopic, `no channel route matches "${topic}"`)
      return
    }
    const channel = new Channel(this, topic, message.joinRef ?? ref, match.target)
    this.channels.set(topic, channel)
    hub.started(channel)
    channel.join(message.payload as JsonObject, ref)
  }

  #leave (message: TextMessage | BinaryMessage): void {
    const channel = this.channels.get(message.topic)
    // Leaving a topic that is not joined is answered ok: leaving is idempotent, and the client's
    // leave() waits for an ok (or its timeout) before it closes the channel on its side.
    if (message.ref !== null) this.send(encodeReply(message.joinRef, message.ref, message.topic, 'ok', {}), null, false)
    channel?.close('leave')
  }

  #push (message: TextMessage | BinaryMessage): void {
    const channel = this.channels.get(message.topic)
    if (channel === undefined) {
      this.#replyError(message, REPLY_REASONS.notJoined, `join "${message.topic.slice(0, 60)}" before pushing to it`)
      return
    }
    if (channel.route.module.handleIn === undefined) {
      this.#replyError(message, REPLY_REASONS.unknownEvent, `the channel of "${message.topic.slice(0, 60)}" takes no pushes`)
      return
    }
    if (!channel.handleIn(message.event, message.payload, message.ref)) {
      this.hub.drops.mailbox_full++
      this.#replyError(message, REPLY_REASONS.mailboxFull, `the channel has ${this.hub.mailboxSize} messages waiting`)
    }
  }

  #refuse (message: TextMessage | BinaryMessage, reason: string, detail: string): void {
    this.#replyError(message, reason, detail)
    this.hub.events.emit('channel:refused', { id: this.id, topic: message.topic, reason })
  }

  #replyError (message: TextMessage | BinaryMessage, reason: string, detail: string): void {
    if (message.ref === null) return
    this.send(encodeReply(message.joinRef, message.ref, message.topic, 'error', { reason, detail }), null, false)
  }
}

// ---------------------------------------------------------------------------------------------
// Module-level listeners: `this` is the emitter; the connection hangs off it.

function wsOnMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  const conn = (this as Tagged<WebSocket>)[kConnection] as Connection
  try {
    // binaryType stays 'nodebuffer' (ws's default): data is always one Buffer.
    conn.receive(data as Buffer, isBinary)
  } catch (err) {
    conn.fail(err)
  }
}

function wsOnClose (this: WebSocket, code: number, reason: Buffer): void {
  const conn = (this as Tagged<WebSocket>)[kConnection] as Connection
  conn.socket.removeListener('drain', socketOnDrain)
  conn.onClosed(code, reason.toString('utf8'))
}

function wsOnError (this: WebSocket, err: Error): void {
  ;((this as Tagged<WebSocket>)[kConnection] as Connection).onError(err)
}

function socketOnDrain (this: Duplex): void {
  ;((this as Tagged<Duplex>)[kConnection] as Connection).onDrain()
}

/** Trims a close reason to the 123 bytes a close frame can carry, on a character boundary. */
function closeReason (message: string): string {
  if (Buffer.byteLength(message, 'utf8') <= CLOSE_REASON_MAX_BYTES) return message
  let text = message.slice(0, CLOSE_REASON_MAX_BYTES - 3)
  while (Buffer.byteLength(text, 'utf8') > CLOSE_REASON_MAX_BYTES - 3) text = text.slice(0, -1)
  return `${text}...`
}
