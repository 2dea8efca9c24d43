/**
 * The client swarm: a process of its own (pinned to its own core when the machine allows) holding
 * every client of a run as a raw `ws` socket. Started by `SwarmLink`; talks to it over IPC only
 * (see protocol.ts); writes nothing to stdout.
 *
 * Per broadcast it keeps how many clients got it, and when the first and the last did; the moment
 * the count reaches the number of joined clients it tells the server (`done`), which is what the
 * isolated and sustained phases wait on. Per message the cost is one `indexOf` for `"seq":`, a few
 * digits, one clock read and three typed-array writes.
 */
import type { Buffer } from 'node:buffer'
import { WebSocket } from 'ws'
import { DIALECTS } from './dialects.js'
import type { ClientDialect } from './dialects.js'
import { readSeq } from './payload.js'
import { now } from './protocol.js'
import type { Dialect, FromSwarm, ToSwarm } from './protocol.js'

const HEARTBEAT_EVERY_MS = 30_000
const HEARTBEAT_TICKS = 30
const CONNECT_TIMEOUT_MS = 120_000

const kJoined = Symbol('joined')
type Client = WebSocket & { [kJoined]?: boolean }

let dialect: ClientDialect = DIALECTS.plain
const clients: Client[] = []
/** Joined clients: a broadcast is complete when this many have it. */
let expected = 0
let received = 0
let closed = 0
let counts = new Uint32Array(4096)
let first = new Float64Array(4096)
let last = new Float64Array(4096)
let heartbeats: ReturnType<typeof setInterval> | null = null
let connecting: { resolve: () => void, reject: (err: Error) => void } | null = null

function send (message: FromSwarm): void {
  if (process.send === undefined) throw new Error('the swarm must be started with an IPC channel (SwarmLink)')
  process.send(message)
}

function grow (seq: number): void {
  let size = counts.length
  while (size <= seq) size *= 2
  const c = new Uint32Array(size)
  c.set(counts)
  counts = c
  const f = new Float64Array(size)
  f.set(first)
  first = f
  const l = new Float64Array(size)
  l.set(last)
  last = l
}

function delivered (seq: number): void {
  const t = now()
  if (seq >= counts.length) grow(seq)
  const n = (counts[seq] as number) + 1
  counts[seq] = n
  if (n === 1) first[seq] = t
  last[seq] = t
  received++
  if (n === expected) send({ kind: 'done', seq })
}

// Module-level listeners (`this` is the socket), as in ws itself: 10,000 clients, no closures.

function clientOnOpen (this: Client): void {
  if (dialect.hello !== null) this.send(dialect.hello)
}

function clientOnMessage (this: Client, data: Buffer): void {
  const seq = readSeq(data)
  if (seq >= 0) {
    delivered(seq)
    return
  }
  if (this[kJoined] === true) {
    dialect.control(this, data)
    return
  }
  try {
    if (dialect.handshake(this, data)) {
      this[kJoined] = true
      onJoined()
    }
  } catch (err) {
    connectFailed(err as Error)
  }
}

function clientOnError (this: Client, err: Error): void {
  if (this[kJoined] !== true) connectFailed(err)
}

function clientOnClose (this: Client): void {
  if (this[kJoined] === true) closed++
  else connectFailed(new Error('a client was closed before it joined'))
}

let target = 0
let started = 0
let joined = 0
let concurrency = 1
let url = ''

function openMore (): void {
  while (started < target && started - joined < concurrency) {
    const ws = new WebSocket(url, { perMessageDeflate: false }) as Client
    ws.on('open', clientOnOpen)
    ws.on('message', clientOnMessage)
    ws.on('error', clientOnError)
    ws.on('close', clientOnClose)
    clients.push(ws)
    started++
  }
}

function onJoined (): void {
  joined++
  if (joined === target) {
    expected = joined
    const done = connecting
    connecting = null
    done?.resolve()
  } else {
    openMore()
  }
}

function connectFailed (err: Error): void {
  const failed = connecting
  connecting = null
  failed?.reject(err)
}

async function connect (name: Dialect, to: string, n: number, inFlight: number): Promise<number> {
  const t0 = performance.now()
  dialect = DIALECTS[name]
  url = to
  target = n
  concurrency = inFlight
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${joined} of ${n} clients joined within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS)
    connecting = {
      resolve: () => { clearTimeout(timer); resolve() },
      reject: (err) => { clearTimeout(timer); reject(err) },
    }
    openMore()
  })
  const beat = dialect.heartbeat
  if (beat !== null) {
    // Each client beats every 30 s, as the official client does, spread over 30 ticks.
    let tick = 0
    heartbeats = setInterval(() => {
      for (let i = tick % HEARTBEAT_TICKS; i < clients.length; i += HEARTBEAT_TICKS) (clients[i] as Client).send(beat)
      tick++
    }, HEARTBEAT_EVERY_MS / HEARTBEAT_TICKS)
  }
  return performance.now() - t0
}

function report (from: number, to: number): FromSwarm {
  if (to >= counts.length) grow(to)
  return {
    kind: 'report',
    from,
    counts: Array.from(counts.subarray(from, to + 1)),
    first: Array.from(first.subarray(from, to + 1)),
    last: Array.from(last.subarray(from, to + 1)),
    closed,
  }
}

function close (): void {
  if (heartbeats !== null) clearInterval(heartbeats)
  for (const ws of clients) {
    ws.removeListener('close', clientOnClose)
    ws.terminate()
  }
  process.exit(0)
}

async function onMessage (message: ToSwarm): Promise<void> {
  switch (message.kind) {
    case 'connect': {
      const ms = await connect(message.dialect, message.url, message.clients, message.concurrency)
      send({ kind: 'joined', clients: expected, ms })
      return
    }
    case 'clock': send({ kind: 'clock', at: message.at, now: now() }); return
    case 'report': send(report(message.from, message.to)); return
    case 'usage': {
      const cpu = process.cpuUsage()
      send({ kind: 'usage', cpuUs: cpu.user + cpu.system, at: now(), received })
      return
    }
    case 'close': close(); return
    default: throw new Error(`swarm: unknown message ${JSON.stringify(message as unknown)}`)
  }
}

function fatal (err: unknown): void {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err)
  // Exit once the report is written (an exit right after send() can lose it), or soon anyway.
  setTimeout(() => process.exit(1), 1000).unref()
  if (process.send === undefined) process.exit(1)
  process.send({ kind: 'failed', message } satisfies FromSwarm, () => process.exit(1))
}

process.on('uncaughtException', fatal)
process.on('unhandledRejection', fatal)
// The server process is gone: nothing left to measure for.
process.on('disconnect', () => process.exit(0))
process.on('message', (message: ToSwarm) => { onMessage(message).catch(fatal) })
send({ kind: 'ready' })
