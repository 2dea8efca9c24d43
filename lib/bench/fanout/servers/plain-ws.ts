/**
 * The naive limit: a `ws` server and a loop over its joined sockets sending one string, built once
 * per broadcast. No framing, no topics, no queue, no yielding: the event loop is blocked for the
 * whole fan-out.
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { RawData, WebSocket } from 'ws'
import type { BenchPayload } from '../payload.js'
import type { FanoutServer } from '../server.js'

const joined: WebSocket[] = []

function socketOnMessage (this: WebSocket, data: RawData): void {
  if (data.toString() !== 'join') return
  joined.push(this)
  this.send('ok')
}

function socketOnClose (this: WebSocket): void {
  const i = joined.indexOf(this)
  if (i >= 0) joined.splice(i, 1)
}

function ignore (): void {}

function onConnection (ws: WebSocket): void {
  ws.on('message', socketOnMessage)
  ws.on('close', socketOnClose)
  ws.on('error', ignore)
}

/** Starts a ws server on a free port. */
export async function start (): Promise<FanoutServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false })
  wss.on('connection', onConnection)
  await new Promise<void>((resolve, reject) => {
    wss.once('error', reject)
    wss.once('listening', () => resolve())
  })
  const port = (wss.address() as AddressInfo).port
  return {
    dialect: 'plain',
    url: `ws://127.0.0.1:${port}/`,
    broadcast (payload: BenchPayload) {
      const text = JSON.stringify(payload)
      for (let i = 0; i < joined.length; i++) (joined[i] as WebSocket).send(text)
    },
    counters: () => ({}),
    close: () => new Promise((resolve) => {
      for (const ws of joined.splice(0)) ws.terminate()
      wss.close(() => resolve())
    }),
  }
}
