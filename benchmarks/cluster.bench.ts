/**
 * Across servers through Redis, against the same work in one server, in the same run:
 *
 * 1. broadcast: events pushed on server A reach an official Phoenix client connected to server B
 *    (A's broadcaster publishes, B's receives from Redis pub/sub and fans out), against the
 *    baseline of a client on A itself with no adapter: throughput (pushed until the last received)
 *    and push → receipt latency (paced, so the latency is not queueing), with ratios;
 * 2. queue: events/s from push() to the broadcaster with a durable queue (XADD, XREADGROUP, XACK),
 *    against the in-memory producer, same tree otherwise.
 *
 * The two "servers" are two runtimes in this process, each with its own threads, endpoint and Redis
 * connections (everything between them goes through Redis; on two cores, separate processes would
 * only add a third busy event loop). Redis at REDIS_URL (default redis://127.0.0.1:6379).
 *
 *   node --import tsx benchmarks/cluster.bench.ts [--events N] [--paced N] [--rate R]
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { Socket } from 'phoenix'
import { WebSocket } from 'ws'
import { start } from '../lib/runtime.js'
import type { Runtime } from '../lib/runtime.js'
import { signToken } from '../lib/channels/token.js'
import { now } from '../lib/stage/envelope.js'

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, paced: { type: 'string', default: '2000' }, rate: { type: 'string', default: '1000' } } })
const EVENTS = Number(values.events)
const PACED = Number(values.paced)
const RATE = Number(values.rate)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const SECRET = randomBytes(32).toString('base64url')
const CHANNEL = fileURLToPath(new URL('../examples/demo/channels/feed.js', import.meta.url))
const run = randomBytes(4).toString('hex')

function tree (options: { pubsub?: boolean, queue?: Record<string, unknown> } = {}): unknown {
  return {
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', bufferSize: 200_000, ...(options.queue !== undefined ? { queue: options.queue } : {}) },
      {
        id: 'broadcaster',
        module: 'builtin:broadcaster',
        subscribeTo: ['source'],
        endpoint: { port: 0, secret: SECRET, channels: [['feed:*', CHANNEL]], outboundLimitBytes: 64 * 1024 * 1024 },
        ...(options.pubsub === true ? { pubsub: { adapter: 'redis', url: REDIS_URL, prefix: `stagewire-bench-${run}:` } } : {}),
      },
    ],
  }
}

/** A client on `runtime`'s endpoint, joined to feed:bench; resolves with a receipt recorder. */
async function client (runtime: Runtime): Promise<{ socket: Socket, received: () => number, latencies: number[], lastAt: () => number }> {
  const { url } = await runtime.endpointAddress()
  const socket = new Socket(url, { transport: WebSocket, params: { token: signToken({ userId: 1 }, SECRET, { maxAgeSeconds: 600 }) } })
  socket.connect()
  const latencies: number[] = []
  let received = 0
  let lastAt = 0
  socket.onMessage((message: object) => {
    const m = message as { event: string, payload: { t?: number } }
    if (m.event !== 'tick') return
    const at = now()
    received++
    lastAt = at
    if (m.payload.t !== undefined) latencies.push(at - m.payload.t)
  })
  const channel = socket.channel('feed:bench', {})
  await new Promise<void>((resolve, reject) => channel.join().receive('ok', () => resolve()).receive('error', reject))
  return { socket, received: () => received, latencies, lastAt: () => lastAt }
}

async function until (check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

function pct (xs: number[], p: number): number {
  const sorted = xs.slice().sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

/** Pushes on `from`, receives on `to`'s client: throughput of a burst, latency of a paced run. */
async function broadcastCase (from: Runtime, to: Runtime): Promise<{ eventsPerS: number, p50: number, p99: number }> {
  const c = await client(to)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const t0 = now()
  for (let i = 0; i < EVENTS; i++) from.push('source', { i }, { topic: 'feed:bench', event: 'tick' })
  await until(() => c.received() >= EVENTS)
  const eventsPerS = EVENTS / ((c.lastAt() - t0) / 1000)
  c.latencies.length = 0
  for (let i = 0; i < PACED; i++) {
    from.push('source', { i, t: now() }, { topic: 'feed:bench', event: 'tick' })
    await new Promise((resolve) => setTimeout(resolve, 1000 / RATE))
  }
  await until(() => c.received() >= EVENTS + PACED)
  c.socket.disconnect()
  return { eventsPerS, p50: pct(c.latencies, 0.5), p99: pct(c.latencies, 0.99) }
}

/** push() → the broadcaster's dispatch, with no client: events/s of the producer's path. */
async function queueCase (runtime: Runtime): Promise<number> {
  const t0 = now()
  for (let i = 0; i < EVENTS; i++) {
    if (!runtime.push('source', { i }, { topic: 'feed:nobody', event: 'tick' })) await new Promise((resolve) => runtime.once('drain', resolve))
  }
  await until(() => runtime.metrics().dispatched >= EVENTS)
  return EVENTS / ((now() - t0) / 1000)
}

const results: string[] = []
const row = (name: string, value: string): void => { results.push(`| ${name} | ${value} |`); process.stderr.write(`${name}: ${value}\n`) }

// 1. Broadcast across two servers vs one.
{
  const single = await start(tree())
  const base = await broadcastCase(single, single)
  await single.close()
  const [a, b] = await Promise.all([start(tree({ pubsub: true })), start(tree({ pubsub: true }))])
  const cross = await broadcastCase(a, b)
  await Promise.all([a.close(), b.close()])
  row('broadcast events/s, one server (client on the pushing server)', base.eventsPerS.toFixed(0))
  row('broadcast events/s, A → Redis → B (client on B)', `${cross.eventsPerS.toFixed(0)} (${(cross.eventsPerS / base.eventsPerS).toFixed(2)}x)`)
  row(`push → receipt p50 / p99 ms at ${RATE}/s, one server`, `${base.p50.toFixed(2)} / ${base.p99.toFixed(2)}`)
  row(`push → receipt p50 / p99 ms at ${RATE}/s, A → Redis → B`, `${cross.p50.toFixed(2)} / ${cross.p99.toFixed(2)} (${(cross.p50 / base.p50).toFixed(2)}x / ${(cross.p99 / base.p99).toFixed(2)}x)`)
}

// 2. Durable queue vs in-memory producer.
{
  const memory = await start(tree())
  const memRate = await queueCase(memory)
  await memory.close()
  const stream = `stagewire-bench-${run}:stream`
  const durable = await start(tree({ queue: { kind: 'redis-streams', url: REDIS_URL, stream, group: 'bench' } }))
  const durRate = await queueCase(durable)
  await durable.close()
  const admin = new Redis(REDIS_URL)
  await admin.del(stream)
  admin.disconnect()
  row('push → broadcaster events/s, in-memory producer', memRate.toFixed(0))
  row('push → broadcaster events/s, durable queue (XADD, XREADGROUP, XACK)', `${durRate.toFixed(0)} (${(durRate / memRate).toFixed(2)}x)`)
}

process.stdout.write(`| case | result |\n|---|---|\n${results.join('\n')}\n`)
