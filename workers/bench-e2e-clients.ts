/**
 * Entry point of the clients process of `stagewire bench e2e` (forked by lib/bench/e2e-clients.ts,
 * where the protocol is drawn). N raw `ws` sockets, Phoenix Channels V2, one topic each; every
 * broadcast frame is parsed and timed. An uncaught exception or unhandled rejection is reported as
 * `failed` and the process exits 1; so does losing the parent.
 */
import { WebSocket } from 'ws'
import { LatencyRecorder } from '../lib/metrics/latency.js'
import type { FromE2eClients, ToE2eClients } from '../lib/bench/e2e-clients.js'

if (typeof process.send !== 'function') throw new Error('workers/bench-e2e-clients.js must run in a forked child process (it talks over IPC)')

const CONNECT_BATCH = 100
const HEARTBEAT_MS = 30_000
const HEARTBEAT = JSON.stringify([null, 'hb', 'phoenix', 'heartbeat', {}])

const sockets: WebSocket[] = []
const recorder = new LatencyRecorder()
let delivered = 0
let errors = 0
let heartbeat: NodeJS.Timeout | undefined

const now = (): number => performance.timeOrigin + performance.now()

function send (message: FromE2eClients): void {
  process.send?.(message)
}

function fail (err: unknown): void {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) })
  process.exitCode = 1
  setTimeout(() => process.exit(1), 100)
}
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)
process.on('disconnect', () => process.exit(0))

/** A broadcast: `[join_ref, ref, topic, event, payload]` with an event not starting with phx_. */
function socketOnMessage (data: Buffer): void {
  const frame = JSON.parse(data.toString()) as [unknown, unknown, string, string, { ts?: unknown }]
  const event = frame[3]
  if (event.startsWith('phx_')) {
    if (event === 'phx_error') errors++
    return
  }
  if (frame[2] === 'phoenix') return // heartbeat replies
  const ts = frame[4]?.ts
  if (typeof ts !== 'number') { errors++; return }
  delivered++
  recorder.record(now() - ts)
}

function socketOnError (): void {
  errors++
}

/** Opens one socket and joins `topic`; resolves once the join is answered ok. */
function connect (url: string, token: string, topic: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/websocket?vsn=2.0.0&token=${encodeURIComponent(token)}`)
    const reply = `["1","1",${JSON.stringify(topic)},"phx_reply",`
    ws.once('open', () => ws.send(JSON.stringify(['1', '1', topic, 'phx_join', {}])))
    ws.once('error', reject)
    const onJoin = (data: Buffer): void => {
      const text = data.toString()
      if (!text.startsWith(reply)) return
      ws.off('message', onJoin)
      ws.off('error', reject)
      if (!text.includes('"status":"ok"')) { reject(new Error(`phx_join ${topic} refused: ${text.slice(0, 200)}`)); return }
      ws.on('message', socketOnMessage)
      ws.on('error', socketOnError)
      resolve(ws)
    }
    ws.on('message', onJoin)
  })
}

process.on('message', (message: ToE2eClients) => {
  switch (message.type) {
    case 'start': {
      void (async () => {
        const t0 = performance.now()
        const list = message.clients
        for (let i = 0; i < list.length; i += CONNECT_BATCH) {
          sockets.push(...await Promise.all(list.slice(i, i + CONNECT_BATCH).map((c) => connect(message.url, c.token, c.topic))))
        }
        heartbeat = setInterval(() => { for (const ws of sockets) ws.send(HEARTBEAT) }, HEARTBEAT_MS)
        send({ type: 'ready', ms: performance.now() - t0 })
      })().catch(fail)
      break
    }
    case 'take':
      send({ type: 'took', ref: message.ref, delivered, errors, latency: recorder.take() })
      break
    case 'stop':
      clearInterval(heartbeat)
      for (const ws of sockets) ws.terminate()
      process.disconnect()
      break
    default:
      fail(new Error(`bench-e2e-clients: unknown message ${JSON.stringify(message as unknown)}`))
  }
})
