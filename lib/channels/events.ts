/**
 * What an endpoint tells the host app: its events, its stats, and the codes it closes sockets with.
 * The library prints nothing; this is everything it has to say.
 */
import type { FrameError } from '../errors.js'
import type { Assigns, TerminateReason } from './behaviour.js'
import type { DropCounters } from './outbound.js'

/**
 * Why a connection ended:
 * `client` the client closed it or went away; `idle_timeout` it sent nothing for `idleTimeoutMs`;
 * `outbound_limit` it fell behind past its outbound limit under the `disconnect` policy;
 * `bad_frame` it sent a frame that could not be read as a Phoenix message (nor answered);
 * `frame_too_large` it sent a frame over `maxFrameBytes`; `server` `endpoint.disconnect()` closed it;
 * `shutdown` the endpoint closed; `error` an unexpected error in the endpoint (a bug: see the event's `error`).
 */
export type DisconnectReason =
  | 'client' | 'idle_timeout' | 'outbound_limit' | 'bad_frame' | 'frame_too_large' | 'server' | 'shutdown' | 'error'

/** Every {@link DisconnectReason}. */
export const DISCONNECT_REASONS: readonly DisconnectReason[] = [
  'client', 'idle_timeout', 'outbound_limit', 'bad_frame', 'frame_too_large', 'server', 'shutdown', 'error',
]

/**
 * The WebSocket close codes the endpoint sends, with the reason text alongside (a client sees both:
 * the official client's `socket.onClose(event)` gets `event.code` and `event.reason`). 1000-1015 are
 * RFC 6455's; 4000-4999 are for applications. The official client reconnects after any of them.
 */
export const CLOSE_CODES = {
  /** The endpoint is closing. */
  shutdown: 1001,
  /** A frame that is not a Phoenix message and carries no ref to answer (RFC 6455: invalid payload data). */
  badFrame: 1007,
  /** A frame over `maxFrameBytes` (sent by `ws` itself, without a reason text: the code is the reason). */
  frameTooLarge: 1009,
  /** An unexpected error in the endpoint. */
  internalError: 1011,
  /** Nothing received for `idleTimeoutMs`. */
  idleTimeout: 4000,
  /** Outbound limit exceeded under the `disconnect` policy. */
  outboundLimit: 4001,
  /** Closed by `endpoint.disconnect()`. */
  server: 4002,
} as const

/** Payload of `socket:connected`. */
export interface SocketConnectedEvent {
  id: string
  assigns: Assigns
}

/** Payload of `socket:refused`: a WebSocket upgrade was answered with an HTTP error instead. */
export interface SocketRefusedEvent {
  /** 403 (token), 400 (protocol version), 404 (path), 503 (closing). */
  status: number
  /** `ERR_TOKEN_EXPIRED`, ... for a token; `ERR_BAD_VSN`, `ERR_NOT_FOUND`, `ERR_CLOSING` otherwise. */
  code: string
  reason: string
}

/** Payload of `socket:closed`: every connection that was accepted ends with exactly one of these. */
export interface SocketClosedEvent {
  id: string
  reason: DisconnectReason
  /** The close code: the one the endpoint sent, or the client's. */
  code: number
  message: string
  /** For `error`: what went wrong. */
  error?: unknown
}

/** Payload of `channel:joined`. */
export interface ChannelJoinedEvent {
  id: string
  topic: string
}

/** Payload of `channel:refused`: a join answered with `status: "error"`. */
export interface ChannelRefusedEvent {
  id: string
  topic: string
  /** The module's `error`, or the endpoint's: `unmatched topic`, `too many channels`, `join crashed`, ... */
  reason: string
}

/** Payload of `channel:closed`: a joined channel ended. */
export interface ChannelClosedEvent {
  id: string
  topic: string
  reason: TerminateReason
}

/** Payload of `channel:crashed`: a channel callback threw or rejected. */
export interface ChannelCrashedEvent {
  id: string
  topic: string
  callback: 'join' | 'handleIn' | 'handleOut' | 'terminate'
  error: unknown
}

/** Payload of `frame:invalid`: a client sent a frame that is not a valid Phoenix message. */
export interface FrameInvalidEvent {
  id: string
  error: FrameError
}

/** Every event an endpoint emits, by name. */
export interface EndpointEvents {
  'socket:connected': [SocketConnectedEvent]
  'socket:refused': [SocketRefusedEvent]
  'socket:closed': [SocketClosedEvent]
  'channel:joined': [ChannelJoinedEvent]
  'channel:refused': [ChannelRefusedEvent]
  'channel:closed': [ChannelClosedEvent]
  'channel:crashed': [ChannelCrashedEvent]
  'frame:invalid': [FrameInvalidEvent]
}

/** Drops by reason: the outbound queue's, plus intercepted broadcasts and pushes refused by a full channel mailbox. */
export interface EndpointDrops extends DropCounters {
  mailbox_full: number
}

/** A snapshot of an endpoint: see `Endpoint.stats()`. */
export interface EndpointStats {
  /** Open connections. */
  connections: number
  /** Live channel actors: joined, joining, or still running `terminate`. */
  channels: number
  /** Topics with at least one subscriber. */
  topics: number
  /** `broadcast()` calls. */
  broadcasts: number
  /** Subscribers the broadcasts were fanned out to, summed: each is then a frame sent or a drop. */
  fanout: number
  /** Frames handed to sockets. */
  messagesSent: number
  /** Of those, broadcast frames of timed events (`broadcast(..., ts)`): deliveries of pushed events. */
  delivered: number
  /** Bytes of those frames, WebSocket headers included. */
  bytesSent: number
  /** Socket writes: one per connection per flush, however many frames it carried. */
  writes: number
  /** Turns of the event loop the flushes took (a large fan-out yields between slices). */
  slices: number
  /** Upgrades refused (bad token, wrong path or version, closing). */
  refused: number
  /** Frames dropped, by reason. */
  drops: EndpointDrops
  /** Connections ended, by reason. */
  disconnects: Record<DisconnectReason, number>
  /** Bytes queued for all clients now: pending frames plus what their sockets hold. */
  pendingBytes: number
  /** The largest of those, for one connection. */
  maxPendingBytes: number
}

/** One connection, as `Endpoint.connections()` lists it. */
export interface ConnectionInfo {
  id: string
  assigns: Assigns
  /** Topics joined or being joined. */
  topics: string[]
  /** Bytes queued for this client now: pending frames plus what its socket holds. */
  pendingBytes: number
  /** The most that was ever queued for it. */
  peakPendingBytes: number
  /** Frames dropped for it by the outbound policy. */
  drops: number
  /** Timed broadcast frames (deliveries of pushed events) handed to it: each is written, dropped or pending. */
  offered: number
  /** Of those, the ones another server broadcast (`broadcast(..., remote: true)`). */
  offeredRemote: number
}
