/**
 * socket.io 4 rooms, defaults unchanged except the transports (WebSocket only, which is what the
 * clients use). A client joins by emitting `join` with the room name and an ack; a broadcast is
 * `io.to('bench').emit('msg', payload)` (encoded once, with the WebSocket frame pre-built by the
 * in-memory adapter, then written socket by socket, synchronously).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'
import type { Socket } from 'socket.io'
import type { BenchPayload } from '../payload.js'
import { SOCKET_IO_ROOM } from '../protocol.js'
import type { FanoutServer } from '../server.js'

function onJoin (this: Socket, room: unknown, ack: unknown): void {
  if (room === SOCKET_IO_ROOM) void this.join(SOCKET_IO_ROOM)
  if (typeof ack === 'function') ack(room === SOCKET_IO_ROOM ? 'ok' : 'unknown room')
}

function onConnection (socket: Socket): void {
  socket.on('join', onJoin) // socket.io calls listeners with the socket as `this`
}

/** Starts a socket.io server on a free port. */
export async function start (): Promise<FanoutServer> {
  const http = createServer()
  const io = new Server(http, { transports: ['websocket'], serveClient: false })
  io.on('connection', onConnection)
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = http.address() as AddressInfo
  return {
    dialect: 'engine.io',
    url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
    broadcast (payload: BenchPayload) {
      io.to(SOCKET_IO_ROOM).emit('msg', payload)
    },
    counters: () => ({}),
    close: () => new Promise((resolve) => { void io.close(() => resolve()) }),
  }
}
