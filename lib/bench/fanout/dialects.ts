/**
 * The client side of each contender's wire protocol, as little of it as a subscriber needs: the
 * join handshake, keep-alives, and nothing else. Broadcasts never reach these functions (the swarm
 * finds their `"seq":` first), so the per-message cost is the same for every contender.
 *
 * ```
 *   phoenix    open ─► ["1","1","bench:all","phx_join",{}]   ◄─ ["1","1","bench:all","phx_reply",{"status":"ok",..}]
 *              every 30 s ─► [null,"hb","phoenix","heartbeat",{}]   (as the official client)
 *   engine.io  ◄─ 0{"sid":..}  ─► 40  ◄─ 40{"sid":..}  ─► 420["join","bench"]  ◄─ 430["ok"]
 *              ◄─ 2 (ping) ─► 3 (pong)
 *   plain      open ─► join  ◄─ ok
 * ```
 */
import type { Buffer } from 'node:buffer'
import type { WebSocket } from 'ws'
import { PHOENIX_TOPIC, SOCKET_IO_ROOM } from './protocol.js'
import type { Dialect } from './protocol.js'

/** One wire protocol, client side. */
export interface ClientDialect {
  /** Sent as soon as the socket opens; null when the server speaks first. */
  readonly hello: string | null
  /** Sent by every client every 30 s (staggered), or null. */
  readonly heartbeat: string | null
  /**
   * A frame received before the client has joined: answers it when the protocol asks to.
   * @returns true once the client is joined.
   * @throws Error the server refused the connection or the join.
   */
  handshake(ws: WebSocket, data: Buffer): boolean
  /** A frame without a sequence number received after the join (pings, heartbeat replies). */
  control(ws: WebSocket, data: Buffer): void
}

const PING = 0x32 // '2': an engine.io ping, the whole frame

const phoenixJoinReply = `["1","1",${JSON.stringify(PHOENIX_TOPIC)},"phx_reply",`

const phoenix: ClientDialect = {
  hello: JSON.stringify(['1', '1', PHOENIX_TOPIC, 'phx_join', {}]),
  heartbeat: JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}]),
  handshake (_ws, data) {
    const text = data.toString()
    if (!text.startsWith(phoenixJoinReply)) return false
    if (text.includes('"status":"ok"')) return true
    throw new Error(`phx_join refused: ${text.slice(0, 200)}`)
  },
  control () {},
}

const engineIo: ClientDialect = {
  hello: null,
  heartbeat: null,
  handshake (ws, data) {
    if (data.length === 1 && data[0] === PING) {
      ws.send('3')
      return false
    }
    const text = data.toString()
    if (text.startsWith('0{')) ws.send('40') // engine.io open: connect to the main namespace
    else if (text.startsWith('40')) ws.send(`420${JSON.stringify(['join', SOCKET_IO_ROOM])}`) // connected: join, ack id 0
    else if (text.startsWith('430')) return true // the join's ack
    else if (text.startsWith('44')) throw new Error(`socket.io refused the connection: ${text.slice(0, 200)}`)
    return false
  },
  control (ws, data) {
    if (data.length === 1 && data[0] === PING) ws.send('3')
  },
}

const plain: ClientDialect = {
  hello: 'join',
  heartbeat: null,
  handshake (_ws, data) {
    return data.length === 2 && data.toString() === 'ok'
  },
  control () {},
}

/** Every dialect, by name. */
export const DIALECTS: Readonly<Record<Dialect, ClientDialect>> = { phoenix, 'engine.io': engineIo, plain }
