/**
 * The endpoint: an HTTP + WebSocket server that speaks the Phoenix Channels protocol (V2), so the
 * official `phoenix` client connects to it unchanged.
 *
 * ```
 *   GET /socket/websocket?vsn=2.0.0&token=...  (Upgrade: websocket)
 *     path or vsn wrong ─────► 404 / 400 + reason, socket closed
 *     token bad or expired ──► 403 + "ERR_TOKEN_EXPIRED: token expired at ...", socket closed
 *     ok ────────────────────► 101, a Connection with assigns = the token's data
 *                                 │ frames ─► channels (one actor per joined topic) ─► your module
 *   endpoint.broadcast(topic, event, payload)
 *     ─► Hub: serialise once, same bytes to every subscriber; intercepted events per client
 *     ─► per connection: bounded outbound queue ─► one corked write per tick, in slices
 * ```
 *
 * It runs in whatever thread creates it, and does not care where broadcasts come from: the host
 * app, a broadcaster stage feeding it over a port, or a cluster adapter all call `broadcast()`.
 *
 * A bad token refuses the WebSocket upgrade with HTTP 403 rather than accepting and then closing.
 * That is what the official client handles best: a refused upgrade never fires its `onOpen`, so it
 * does not flush its buffered joins to a socket that will not serve them, and its reconnect back-off
 * keeps growing (10, 50, 100 ... 5000 ms); an accepted-then-closed socket counts as a successful
 * connection, which resets the back-off, and the client would reconnect every 10 ms forever.
 * The reason travels in the 403's body (readable by Node clients; a browser only sees the failure),
 * and in the `socket:refused` event. It is also what Phoenix does.
 */
import { Buffer } from 'node:buffer'
import { STATUS_CODES, createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { EventEmitter } from 'eventemitter3'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { InvalidArgumentError, RuntimeClosedError, TokenError } from '../errors.js'
import { checkChannelModule } from './behaviour.js'
import type { AnyChannelModule, Assigns } from './behaviour.js'
import type { ChannelRoute } from './channel.js'
import { Connection } from './connection.js'
import { CLOSE_CODES } from './events.js'
import type { ConnectionInfo, EndpointEvents, EndpointStats } from './events.js'
import { Hub } from './hub.js'
import { OUTBOUND_POLICIES } from './outbound.js'
import type { LatencySink, OutboundPolicy } from './outbound.js'
import { TOKEN_SECRET_MIN_BYTES, verifyToken } from './token.js'
import type { TokenSecret } from './token.js'
import { compileRoutes } from './topics.js'
import type { CompiledRoutes, TopicRoute } from './topics.js'

/** Options of {@link Endpoint}. Only `secret` and `channels` are required. */
export interface EndpointOptions {
  /** Interface to listen on (default `127.0.0.1`). Not with `server`. */
  host?: string
  /** Port to listen on (default 4000; 0 picks a free one, see `listen()`'s result). Not with `server`. */
  port?: number
  /**
   * A host app's HTTP server to attach to instead of creating one. The endpoint then handles only
   * upgrades to its own path, never closes the server, and runs on the host's thread: a large
   * fan-out shares the host's event loop (flushes yield between slices, but the work is the same).
   */
  server?: Server
  /** Mount path (default `/socket`): clients connect to `<path>/websocket?vsn=2.0.0`. */
  path?: string
  /** The secret connect tokens are signed with (`signToken`); at least 32 bytes. */
  secret: TokenSecret
  /** Channel routes, Phoenix-style: `[['user:*', UserChannel], ['room:lobby', LobbyChannel]]`; the first match wins. */
  channels: ReadonlyArray<TopicRoute<AnyChannelModule>>
  /** Close a socket that sends nothing (not even a heartbeat) for this long (default 60,000 ms). */
  idleTimeoutMs?: number
  /** Largest frame a client may send (default 1 MiB); a larger one closes the socket with 1009. */
  maxFrameBytes?: number
  /** Channels one connection may join at once (default 100, as Phoenix). */
  maxChannelsPerSocket?: number
  /** Bytes one connection may have queued, pending plus socket-buffered (default 1 MiB). */
  outboundLimitBytes?: number
  /** What happens past `outboundLimitBytes` (default `drop-oldest`); see `OutboundQueue`. */
  outboundPolicy?: OutboundPolicy
  /** Messages a channel actor may have waiting (pushes and intercepted broadcasts; default 1000). */
  mailboxSize?: number
  /** Connections written per turn of the event loop during a fan-out (default 256). */
  fanoutSliceSize?: number
  /**
   * Plain HTTP requests on a server the endpoint created (`/metrics`, `/health`, a page): return
   * true once the request is answered; otherwise the endpoint answers 404 (426 on its WebSocket
   * path). A throw is answered 500. Not with `server`, where the host app routes its own requests.
   */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean
}

/** Options of {@link Endpoint.close}. */
export interface EndpointCloseOptions {
  /** ms to wait for clients to complete the close handshake and channels to finish `terminate` (default 5000). */
  timeoutMs?: number
}

/** The defaults of {@link EndpointOptions}. */
export const ENDPOINT_DEFAULTS = {
  host: '127.0.0.1',
  port: 4000,
  path: '/socket',
  idleTimeoutMs: 60_000,
  maxFrameBytes: 1024 * 1024,
  maxChannelsPerSocket: 100,
  outboundLimitBytes: 1024 * 1024,
  outboundPolicy: 'drop-oldest',
  mailboxSize: 1000,
  fanoutSliceSize: 256,
  closeTimeoutMs: 5000,
} as const

type State = 'idle' | 'listening' | 'closing' | 'closed'

const kAssigns = Symbol('stagewire.assigns')
type TaggedRequest = IncomingMessage & { [kAssigns]?: Assigns }

/**
 * A Phoenix Channels endpoint. Emits {@link EndpointEvents}: `socket:connected`, `socket:refused`,
 * `socket:closed`, `channel:joined`, `channel:refused`, `channel:closed`, `channel:crashed`,
 * `frame:invalid`.
 *
 * ```ts
 * const endpoint = new Endpoint({ port: 0, secret, channels: [['user:*', UserChannel]] })
 * const { port } = await endpoint.listen()
 * endpoint.broadcast('user:42', 'msg', { text: 'hi' })
 * await endpoint.close()
 * ```
 */
export class Endpoint extends EventEmitter<EndpointEvents> {
  readonly #hub: Hub
  readonly #wss: WebSocketServer
  readonly #server: Server
  readonly #ownServer: boolean
  readonly #host: string
  readonly #port: number
  readonly #wsPath: string
  readonly #secret: TokenSecret
  #state: State = 'idle'
  #listening: Promise<{ port: number }> | null = null
  #closing: Promise<void> | null = null
  #nextId = 0

  /**
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` an option is invalid, worded
   *   `options.port must be an integer from 0 to 65535, got 70000`; a channel route or module is
   *   invalid (`options.channels[1] ...`).
   */
  constructor (options: EndpointOptions) {
    super()
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${options === null ? 'null' : typeof options}`)
    const o = options
    if (o.server !== undefined) {
      if (typeof o.server !== 'object' || o.server === null || typeof o.server.on !== 'function' || typeof o.server.listen !== 'function') {
        throw new InvalidArgumentError('options.server must be an http.Server')
      }
      if (o.host !== undefined || o.port !== undefined) {
        throw new InvalidArgumentError('options.host and options.port cannot be combined with options.server (the host app listens)')
      }
    }
    this.#host = o.host ?? ENDPOINT_DEFAULTS.host
    if (typeof this.#host !== 'string' || this.#host.length === 0) throw new InvalidArgumentError(`options.host must be a non-empty string, got ${describe(o.host)}`)
    this.#port = o.port ?? ENDPOINT_DEFAULTS.port
    if (!Number.isInteger(this.#port) || this.#port < 0 || this.#port > 65_535) {
      throw new InvalidArgumentError(`options.port must be an integer from 0 to 65535, got ${describe(o.port)}`)
    }
    const path = o.path ?? ENDPOINT_DEFAULTS.path
    if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path) || (path.length > 1 && path.endsWith('/'))) {
      throw new InvalidArgumentError(`options.path must start with / and not end with one (e.g. "/socket"), got ${describe(o.path)}`)
    }
    this.#wsPath = `${path === '/' ? '' : path}/websocket`
    this.#secret = checkSecret(o.secret)
    const routes = checkRoutes(o.channels)
    const idleTimeoutMs = positiveInteger('idleTimeoutMs', o.idleTimeoutMs, ENDPOINT_DEFAULTS.idleTimeoutMs)
    const maxFrameBytes = positiveInteger('maxFrameBytes', o.maxFrameBytes, ENDPOINT_DEFAULTS.maxFrameBytes)
    const maxChannels = positiveInteger('maxChannelsPerSocket', o.maxChannelsPerSocket, ENDPOINT_DEFAULTS.maxChannelsPerSocket)
    const outboundLimit = positiveInteger('outboundLimitBytes', o.outboundLimitBytes, ENDPOINT_DEFAULTS.outboundLimitBytes)
    const policy = o.outboundPolicy ?? ENDPOINT_DEFAULTS.outboundPolicy
    if (!OUTBOUND_POLICIES.includes(policy)) {
      throw new InvalidArgumentError(`options.outboundPolicy must be one of ${OUTBOUND_POLICIES.join('|')}, got ${describe(o.outboundPolicy)}`)
    }
    const mailboxSize = positiveInteger('mailboxSize', o.mailboxSize, ENDPOINT_DEFAULTS.mailboxSize)
    const sliceSize = positiveInteger('fanoutSliceSize', o.fanoutSliceSize, ENDPOINT_DEFAULTS.fanoutSliceSize)

    this.#hub = new Hub({ routes, maxChannels, outboundLimit, policy, mailboxSize, sliceSize, idleTimeoutMs }, this)
    // noServer: the upgrade listener below authenticates before ws sees the request.
    // No permessage-deflate: it would compress every frame once per subscriber, defeating the
    // serialise-once fan-out, and make ws queue sends asynchronously.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false, clientTracking: false })
    this.#ownServer = o.server === undefined
    if (o.onRequest !== undefined && typeof o.onRequest !== 'function') throw new InvalidArgumentError(`options.onRequest must be a function, got ${describe(o.onRequest)}`)
    if (o.onRequest !== undefined && o.server !== undefined) throw new InvalidArgumentError('options.onRequest cannot be combined with options.server (the host app routes its own requests)')
    this.#server = o.server ?? createServer(plainRequests(o.onRequest))
  }

  /**
   * Starts serving: listens on `host:port` (or attaches to `options.server`, and resolves once that
   * server listens). Idempotent: a second call returns the same promise.
   *
   * @returns the port listened on (the one picked when `port` was 0).
   * @throws {RuntimeClosedError} `ERR_RUNTIME_CLOSED` (rejects) the endpoint was closed.
   * @throws the server's own error (rejects), e.g. `EADDRINUSE`.
   */
  listen (): Promise<{ port: number }> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(new RuntimeClosedError('the endpoint is closed'))
    if (this.#listening !== null) return this.#listening
    this.#state = 'listening'
    this.#server.on('upgrade', this.#onUpgrade)
    this.#hub.start()
    const server = this.#server
    this.#listening = new Promise((resolve, reject) => {
      const listening = (): void => {
        server.off('error', failed)
        resolve({ port: (server.address() as AddressInfo).port })
      }
      const failed = (err: Error): void => {
        server.off('listening', listening)
        reject(err)
      }
      if (server.listening) {
        listening()
        return
      }
      server.once('error', failed)
      server.once('listening', listening)
      if (this.#ownServer) server.listen(this.#port, this.#host)
    })
    return this.#listening
  }

  /**
   * Sends `event` with `payload` to every client joined to `topic`. The frame is serialised once
   * and the same bytes are queued for every subscriber; subscribers whose channel module intercepts
   * `event` get their own copy from `handleOut` instead. Frames leave on the next turn of the event
   * loop, coalesced per client. A `Uint8Array` payload is sent as a binary frame. `ts`, the push
   * time of the event being broadcast (ms epoch, as `Envelope.ts`), makes each delivery count in
   * `stats().delivered` and in the latency sink of {@link recordLatency}. `remote` marks a broadcast
   * another server made (a cluster adapter's): counted apart in `connections()[i].offeredRemote`.
   *
   * @returns how many subscribers the topic had (0: nothing was serialised).
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` topic or event is not a non-empty string,
   *   or the payload is not a plain object or bytes, or cannot be serialised to JSON.
   */
  broadcast (topic: string, event: string, payload: object | Uint8Array, ts = 0, remote = false): number {
    return this.#hub.broadcast(topic, event, payload, ts, remote)
  }

  /**
   * Records the latency of every timed delivery (a broadcast given its event's push time `ts`)
   * into `sink` as the frame is written to its socket; null stops recording.
   *
   * @throws never.
   */
  recordLatency (sink: LatencySink | null): void {
    this.#hub.latency = sink
  }

  /**
   * Resolves once every broadcast made so far has been written to its sockets (or dropped by
   * their outbound policy). A fan-out to many thousands of clients is written in slices over
   * several turns of the event loop; this is how a caller paces itself to it.
   *
   * @throws never.
   */
  flushed (): Promise<void> {
    return this.#hub.flushed()
  }

  /**
   * Resolves once every client has at most `highWaterBytes` waiting to be sent, not counting
   * clients that have been over it for longer than `graceMs` (those are left to the outbound
   * policy). The broadcaster waits on this before asking for more events, so that a fast pipeline
   * slows to what its clients read instead of dropping for them; stalled clients, however many,
   * slow the others for at most `graceMs` in every `2 × graceMs` (no client is waited for during
   * the `graceMs` after one was let go).
   *
   * @throws never.
   */
  writable (highWaterBytes: number, graceMs: number): Promise<void> {
    return this.#hub.writable(highWaterBytes, graceMs)
  }

  /**
   * Closes one connection (code 4002) with `message` as the reason; its channels end with
   * `disconnect`. The official client reconnects and rejoins, as after any server-side close.
   *
   * @returns false when no open connection has that id.
   * @throws never.
   */
  disconnect (id: string, message = 'disconnected by the server'): boolean {
    const conn = this.#hub.connections.get(id)
    if (conn === undefined || conn.isClosed) return false
    conn.close(CLOSE_CODES.server, 'server', message)
    return true
  }

  /**
   * The open connections, with their topics and outbound bytes. O(connections): for tests and
   * introspection, not for a hot path.
   *
   * @throws never.
   */
  connections (): ConnectionInfo[] {
    return this.#hub.connectionInfos()
  }

  /**
   * Counters and gauges: connections, live channels, topics, broadcasts, frames and bytes sent,
   * socket writes, flush slices, refused upgrades, drops and disconnects by reason, bytes pending.
   * The byte gauges are O(connections).
   *
   * @throws never.
   */
  stats (): EndpointStats {
    return this.#hub.stats()
  }

  /**
   * Stops accepting connections, closes every socket (code 1001, `server shutting down`), lets the
   * channels run `terminate`, and closes the server it created (an attached server is left
   * running, without the endpoint's listener). Sockets that have not completed the close handshake
   * within `timeoutMs` are terminated. Leaves no timer, socket or listener behind. Idempotent.
   *
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` (rejects) `options.timeoutMs` is not a positive integer.
   */
  close (options: EndpointCloseOptions = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing
    let timeoutMs: number
    try {
      timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, ENDPOINT_DEFAULTS.closeTimeoutMs)
    } catch (err) {
      return Promise.reject(err)
    }
    this.#closing = this.#shutdown(timeoutMs)
    return this.#closing
  }

  async #shutdown (timeoutMs: number): Promise<void> {
    this.#state = 'closing'
    this.#server.off('upgrade', this.#onUpgrade)
    const server = this.#server
    let serverClosed: Promise<void> | undefined
    if (this.#ownServer && server.listening) serverClosed = new Promise((resolve) => server.close(() => resolve()))
    await this.#hub.shutdown(timeoutMs)
    if (serverClosed !== undefined) {
      // Keep-alive HTTP connections (plain requests) would hold server.close() open.
      server.closeAllConnections()
      await serverClosed
    }
    this.#state = 'closed'
  }

  /** Authenticates an upgrade request before handing it to ws. */
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const pathname = query === -1 ? url : url.slice(0, query)
    if (pathname !== this.#wsPath) {
      // On a host's server, other upgrade listeners may own this path.
      if (!this.#ownServer && this.#server.listenerCount('upgrade') > 1) return
      this.#refuse(socket, 404, 'ERR_NOT_FOUND', `no WebSocket endpoint at ${pathname.slice(0, 80)} (try ${this.#wsPath})`)
      return
    }
    if (this.#state !== 'listening') {
      this.#refuse(socket, 503, 'ERR_CLOSING', 'the endpoint is closing')
      return
    }
    const params = new URLSearchParams(query === -1 ? '' : url.slice(query + 1))
    const vsn = params.get('vsn')
    if (vsn !== null && !vsn.startsWith('2.')) {
      this.#refuse(socket, 400, 'ERR_BAD_VSN', `unsupported protocol vsn=${vsn.slice(0, 20)}: this endpoint speaks 2.0.0 (the V2 JSON serializer)`)
      return
    }
    let assigns: Assigns
    try {
      const token = params.get('token')
      if (token === null) throw new TokenError('params.token is missing: connect with params: { token }', 'ERR_TOKEN_MALFORMED')
      assigns = toAssigns(verifyToken(token, this.#secret))
    } catch (err) {
      if (err instanceof TokenError) this.#refuse(socket, 403, err.code, err.message)
      else this.#refuse(socket, 500, 'ERR_INTERNAL', 'internal error')
      return
    }
    ;(req as TaggedRequest)[kAssigns] = assigns
    this.#wss.handleUpgrade(req, socket, head, this.#onUpgraded)
  }

  readonly #onUpgraded = (ws: WebSocket, req: IncomingMessage): void => {
    const assigns = (req as TaggedRequest)[kAssigns] as Assigns
    delete (req as TaggedRequest)[kAssigns]
    const conn = new Connection(this.#hub, ws, req.socket, String(++this.#nextId), assigns)
    this.#hub.add(conn)
  }

  #refuse (socket: Duplex, status: number, code: string, reason: string): void {
    this.#hub.counters.refused++
    this.emit('socket:refused', { status, code, reason })
    refuseUpgrade(socket, status, `${code}: ${reason}`)
  }
}

/** Answers an upgrade request with an HTTP error and closes the socket (as ws's abortHandshake does). */
function refuseUpgrade (socket: Duplex, status: number, message: string): void {
  // The client may reset the connection while we answer; an unhandled 'error' would crash the host.
  socket.on('error', ignore)
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = `${message}\n`
  socket.once('finish', destroyStream)
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body)
}

/** Plain HTTP requests to a server the endpoint created: the app's handler first, then ours. */
function plainRequests (onRequest: EndpointOptions['onRequest']): (req: IncomingMessage, res: ServerResponse) => void {
  if (onRequest === undefined) return onPlainRequest
  return (req, res) => {
    let handled: boolean
    try {
      handled = onRequest(req, res) === true
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('internal error\n')
      return
    }
    if (!handled) onPlainRequest(req, res)
  }
}

/** Plain HTTP requests the app did not answer: the endpoint serves only WebSocket upgrades. */
function onPlainRequest (req: IncomingMessage, res: ServerResponse): void {
  const upgradeOnly = (req.url ?? '').includes('/websocket')
  res.writeHead(upgradeOnly ? 426 : 404, { 'Content-Type': 'text/plain; charset=utf-8', ...(upgradeOnly ? { Upgrade: 'websocket' } : {}) })
  res.end(upgradeOnly ? 'this endpoint takes WebSocket upgrades only\n' : 'not found\n')
}

function destroyStream (this: Duplex): void {
  this.destroy()
}

function ignore (): void {}

/** A token's data as assigns: an object as is; anything else (a user id string, say) as `{ data }`. */
function toAssigns (data: unknown): Assigns {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data as Assigns
  return { data }
}

function checkSecret (secret: unknown): TokenSecret {
  let size: number
  if (typeof secret === 'string') size = Buffer.byteLength(secret, 'utf8')
  else if (secret instanceof Uint8Array) size = secret.length
  else throw new InvalidArgumentError(`options.secret must be a string or a Uint8Array, got ${describe(secret)}`)
  if (size < TOKEN_SECRET_MIN_BYTES) {
    throw new InvalidArgumentError(`options.secret must be at least ${TOKEN_SECRET_MIN_BYTES} bytes, got ${size} (generate one with crypto.randomBytes(32))`)
  }
  return secret
}

function checkRoutes (channels: unknown): CompiledRoutes<ChannelRoute> {
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new InvalidArgumentError('options.channels must be a non-empty array of [pattern, channel module]')
  }
  const routes: Array<TopicRoute<ChannelRoute>> = []
  for (let i = 0; i < channels.length; i++) {
    const route: unknown = channels[i]
    if (!Array.isArray(route) || route.length !== 2) {
      throw new InvalidArgumentError(`options.channels[${i}] must be a [pattern, channel module] pair`)
    }
    const module: unknown = route[1]
    checkChannelModule(module, `options.channels[${i}] module`)
    const intercept = module.intercept !== undefined && module.intercept.length > 0 ? new Set(module.intercept) : null
    routes.push([route[0] as string, { module, intercept }])
  }
  try {
    return compileRoutes(routes)
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(err.message.replace(/\broutes\[/g, 'options.channels['))
    throw err
  }
}

function positiveInteger (name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`options.${name} must be a positive integer, got ${describe(value)}`)
  }
  return value
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value)
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}
