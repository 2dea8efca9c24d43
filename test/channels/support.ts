// Shared by the endpoint tests: an endpoint on 127.0.0.1:0 with the fixture channels, the official
// phoenix client over `ws`, and a raw `ws` client for frames the official client would never send.
import { Socket } from 'phoenix'
import type { Channel, SocketConnectOption } from 'phoenix'
import { WebSocket } from 'ws'
import { Endpoint } from '../../lib/channels/endpoint.js'
import type { EndpointOptions } from '../../lib/channels/endpoint.js'
import { signToken } from '../../lib/channels/token.js'
import { bad, boom, slowJoin } from '../fixtures/channels/faulty.js'
import room from '../fixtures/channels/room.js'
import user from '../fixtures/channels/user.js'

export const SECRET = 'endpoint-test-secret-of-32-bytes!'

/** What a tap test offers that these helpers need. */
export interface Teardown { teardown(fn: () => unknown): void }

/** A token for user `userId`, valid `maxAgeSeconds`. */
export function tokenFor (userId: number, maxAgeSeconds = 300, now?: number): string {
  return signToken({ userId }, SECRET, now === undefined ? { maxAgeSeconds } : { maxAgeSeconds, now })
}

/** The routes every test endpoint has. */
export const ROUTES: EndpointOptions['channels'] = [
  ['user:*', user], ['room:*', room], ['boom:*', boom], ['bad:*', bad], ['async:*', slowJoin],
]

/** An endpoint listening on a free port, closed at teardown. */
export async function startEndpoint (t: Teardown, options: Partial<EndpointOptions> = {}): Promise<{ endpoint: Endpoint, port: number }> {
  const endpoint = new Endpoint({ port: 0, secret: SECRET, channels: ROUTES, ...options })
  const { port } = await endpoint.listen()
  t.teardown(() => endpoint.close({ timeoutMs: 2000 }))
  return { endpoint, port }
}

/** A frame as the official client's `onMessage` hook sees it. */
export interface ClientMessage {
  join_ref: string | null
  ref: string | null
  topic: string
  event: string
  payload: Record<string, unknown>
}

/**
 * The official client, connected with `token`, disconnected at teardown (its timers would keep the
 * process alive otherwise). Reconnects fast so tests do not wait on its back-off.
 */
export function phoenixSocket (t: Teardown, port: number, token: string, options: Partial<SocketConnectOption> = {}): Socket {
  const socket = new Socket(`ws://127.0.0.1:${port}/socket`, {
    transport: WebSocket,
    params: { token },
    reconnectAfterMs: () => 20,
    rejoinAfterMs: () => 20,
    ...options,
  })
  t.teardown(() => socket.disconnect())
  socket.connect()
  return socket
}

/** The outcome of a join through the official client. */
export interface JoinOutcome {
  channel: Channel
  status: 'ok' | 'error' | 'timeout'
  response: Record<string, unknown>
}

/**
 * Joins `topic` with the official client. A refused (or timed out) join is left at once, since the
 * client retries a refused join forever otherwise.
 */
export function join (socket: Socket, topic: string, params: object = {}, timeoutMs = 5000): Promise<JoinOutcome> {
  const channel = socket.channel(topic, params)
  return new Promise((resolve) => {
    channel.join(timeoutMs)
      .receive('ok', (response: Record<string, unknown>) => resolve({ channel, status: 'ok', response }))
      .receive('error', (response: Record<string, unknown>) => {
        channel.leave()
        resolve({ channel, status: 'error', response })
      })
      .receive('timeout', () => {
        channel.leave()
        resolve({ channel, status: 'timeout', response: {} })
      })
  })
}

/** The reply to a push, through the official client. */
export function push (channel: Channel, event: string, payload: object = {}, timeoutMs = 5000): Promise<{ status: string, response: Record<string, unknown> }> {
  return new Promise((resolve) => {
    channel.push(event, payload, timeoutMs)
      .receive('ok', (response: Record<string, unknown>) => resolve({ status: 'ok', response }))
      .receive('error', (response: Record<string, unknown>) => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout', response: {} }))
  })
}

/** Resolves with the first frame the client receives that satisfies `accept` (every topic: the socket-level hook). */
export function nextMessage (socket: Socket, accept: (m: ClientMessage) => boolean, timeoutMs = 5000): Promise<ClientMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off([ref])
      reject(new Error(`no matching message within ${timeoutMs} ms`))
    }, timeoutMs)
    const ref = socket.onMessage((message) => {
      const m = message as ClientMessage
      if (!accept(m)) return
      clearTimeout(timer)
      socket.off([ref])
      resolve(m)
    })
  })
}

/** Resolves when the official client's socket opens. */
export function opened (socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.isConnected()) {
      resolve()
      return
    }
    const ref = socket.onOpen(() => {
      socket.off([ref])
      resolve()
    })
  })
}

/** Resolves with the code and reason of the next close the official client sees. */
export function clientClosed (socket: Socket): Promise<{ code: number, reason: string }> {
  return new Promise((resolve) => {
    const ref = socket.onClose((event) => {
      socket.off([ref])
      const e = event as unknown as { code: number, reason: string }
      resolve({ code: e.code, reason: e.reason })
    })
  })
}

/** The WebSocket URL of a test endpoint, with `token` and the protocol version unless overridden. */
export function wsUrl (port: number, token: string | null, extra = 'vsn=2.0.0'): string {
  const query = [token === null ? '' : `token=${encodeURIComponent(token)}`, extra].filter((s) => s !== '').join('&')
  return `ws://127.0.0.1:${port}/socket/websocket?${query}`
}

/** A raw `ws` client: sends any bytes, records every frame it receives, in order. */
export class RawClient {
  readonly ws: WebSocket
  /** Frames received and not yet taken by `next()`: parsed JSON for text, bytes for binary. */
  readonly frames: unknown[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  #waiter: (() => void) | null = null

  private constructor (ws: WebSocket) {
    this.ws = ws
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? data : JSON.parse((data as Buffer).toString('utf8')))
      const waiter = this.#waiter
      this.#waiter = null
      waiter?.()
    })
  }

  /** Connects and resolves once open; rejects with the HTTP status and body if the upgrade is refused. */
  static connect (t: Teardown, url: string): Promise<RawClient> {
    const ws = new WebSocket(url)
    t.teardown(() => ws.terminate())
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawClient(ws)))
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { body += chunk })
        res.on('end', () => {
          ws.terminate()
          reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode, body }))
        })
      })
      ws.once('error', reject)
    })
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame))
  }

  /** The next frame received (waits for it). */
  async next (timeoutMs = 5000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs
    while (this.frames.length === 0) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    return this.frames.shift()
  }

  /** Sends `frame` and resolves with the next frame received. */
  async request (frame: unknown): Promise<unknown> {
    this.send(frame)
    return this.next()
  }
}
