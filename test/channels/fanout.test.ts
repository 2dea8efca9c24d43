// Fan-out at scale and under pressure: 1,000 official clients each on user:<id> with random
// broadcasts (each receives exactly its own events, in order, checked at the socket level); a tick's
// frames for one client leave in one write; a large fan-out yields between slices; and one stalled
// client under each outbound policy, while the others receive every message.
import t from 'tap'
import type { Socket } from 'phoenix'
import type { WebSocket } from 'ws'
import { CLOSE_CODES } from '../../lib/channels/events.js'
import type { Endpoint } from '../../lib/channels/endpoint.js'
import type { OutboundPolicy } from '../../lib/channels/outbound.js'
import { waitFor } from '../helpers.js'
import { RawClient, join, opened, phoenixSocket, startEndpoint, tokenFor, wsUrl } from './support.js'
import type { ClientMessage, Teardown } from './support.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('1,000 users each on user:<id>, random broadcasts: each gets exactly its own, in order', async (t) => {
  const USERS = 1000
  const BROADCASTS = 20_000
  const { endpoint, port } = await startEndpoint(t)
  const received: number[][] = Array.from({ length: USERS }, () => [])
  const foreign: string[] = []
  let total = 0
  let allReceived: () => void = () => {}
  const done = new Promise<void>((resolve) => { allReceived = resolve })

  const sockets: Socket[] = []
  for (let start = 0; start < USERS; start += 100) {
    const batch: Socket[] = []
    for (let id = start; id < start + 100; id++) {
      const socket = phoenixSocket(t, port, tokenFor(id))
      // The socket-level hook sees every frame, whatever its topic: a channel would ignore others'.
      socket.onMessage((message) => {
        const m = message as ClientMessage
        if (m.event !== 'msg') return
        if (m.topic !== `user:${id}` || m.payload.to !== id) foreign.push(`user ${id} got ${m.topic} ${JSON.stringify(m.payload)}`)
        else (received[id] as number[]).push(m.payload.seq as number)
        if (++total === BROADCASTS) allReceived()
      })
      batch.push(socket)
    }
    await Promise.all(batch.map(opened))
    const joins = await Promise.all(batch.map((s, i) => join(s, `user:${start + i}`)))
    t.ok(joins.every((j) => j.status === 'ok'), `users ${start}..${start + 99} joined their own topic`)
    sockets.push(...batch)
  }
  // Every tenth user tries someone else's topic, and is refused.
  const intrusions = await Promise.all(sockets.filter((_, id) => id % 10 === 0).map((s, i) => join(s, `user:${(i * 10 + 1) % USERS}`)))
  t.ok(intrusions.every((j) => j.status === 'error' && j.response.reason === 'unauthorized'), '100 joins to another user\'s topic refused')
  t.equal(endpoint.stats().connections, USERS)
  t.equal(endpoint.stats().topics, USERS)

  let seed = 7
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return Math.floor((seed / 2_147_483_648) * n)
  }
  const sent = new Array<number>(USERS).fill(0)
  const before = endpoint.stats()
  let reached = 0
  for (let b = 0; b < BROADCASTS; b++) {
    const id = random(USERS)
    sent[id] = (sent[id] as number) + 1
    reached += endpoint.broadcast(`user:${id}`, 'msg', { to: id, seq: sent[id] })
    if (b % 500 === 499) await tick()
  }
  t.equal(reached, BROADCASTS, 'each broadcast had its one subscriber')
  t.equal(endpoint.broadcast(`user:${USERS + 1}`, 'msg', {}), 0, 'a topic nobody joined reaches nobody')
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([done, new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`only ${total} of ${BROADCASTS} received`)), 20_000) })])
  clearTimeout(timer)

  t.strictSame(foreign, [], 'nobody received anyone else\'s event')
  let exact = 0
  for (let id = 0; id < USERS; id++) {
    const expected = Array.from({ length: sent[id] as number }, (_, i) => i + 1)
    if (JSON.stringify(received[id]) === JSON.stringify(expected)) exact++
    else t.strictSame(received[id], expected, `user ${id} received exactly its events, in order (sent ${sent[id]})`)
  }
  t.equal(exact, USERS, 'every user received exactly its events, in order')
  const after = endpoint.stats()
  t.ok(after.messagesSent - before.messagesSent >= BROADCASTS, 'every broadcast was written')
  t.ok(after.writes - before.writes < BROADCASTS, `coalesced: ${after.writes - before.writes} writes for ${BROADCASTS} frames`)
  t.strictSame(after.drops, { dropped_oldest: 0, conflated: 0, dropped_newest: 0, mailbox_full: 0 }, 'nothing dropped for clients that keep up')
})

t.test('frames pending for one client within a tick leave in one write', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  t.strictSame(await raw.request(['1', '1', 'room:burst', 'phx_join', {}]), ['1', '1', 'room:burst', 'phx_reply', { status: 'ok', response: {} }])
  await tick()
  const before = endpoint.stats()
  for (let i = 0; i < 100; i++) endpoint.broadcast('room:burst', 'n', { i })
  const frames: unknown[] = []
  for (let i = 0; i < 100; i++) frames.push(await raw.next())
  t.strictSame(frames, Array.from({ length: 100 }, (_, i) => [null, null, 'room:burst', 'n', { i }]), 'all 100, in order')
  const after = endpoint.stats()
  t.equal(after.messagesSent - before.messagesSent, 100)
  t.equal(after.writes - before.writes, 1, 'one socket write for the 100 frames of the tick')
})

t.test('a fan-out to many subscribers yields to the event loop between slices', async (t) => {
  const CLIENTS = 50
  const { endpoint, port } = await startEndpoint(t, { fanoutSliceSize: 10 })
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => RawClient.connect(t, wsUrl(port, tokenFor(1)))))
  for (const c of clients) await c.request(['1', '1', 'room:wide', 'phx_join', {}])
  await tick()
  const before = endpoint.stats()
  t.equal(endpoint.broadcast('room:wide', 'hello', { x: 1 }), CLIENTS)
  // Scheduled after the fan-out's first slice: it runs before the rest of the fan-out.
  const sentWhenOthersRan = await new Promise<number>((resolve) => setImmediate(() => resolve(endpoint.stats().messagesSent - before.messagesSent)))
  t.equal(sentWhenOthersRan, 10, 'other callbacks ran after the first slice of 10 connections')
  for (const c of clients) t.strictSame(await c.next(), [null, null, 'room:wide', 'hello', { x: 1 }])
  t.equal(endpoint.stats().slices - before.slices, CLIENTS / 10, 'five slices')
})

/** A raw client that counts the `n` broadcasts it receives per topic and checks they come in order. */
class Counter {
  readonly ws: WebSocket
  readonly seqs = new Map<string, number[]>()
  received = 0
  #wanted = Infinity
  #reached: () => void = () => {}

  constructor (ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as [unknown, unknown, string, string, { seq?: number }]
      if (frame[3] !== 'n') return
      const list = this.seqs.get(frame[2]) ?? []
      list.push(frame[4].seq as number)
      this.seqs.set(frame[2], list)
      if (++this.received >= this.#wanted) this.#reached()
    })
  }

  static async connect (t: Teardown, port: number, userId: number, topics: string[]): Promise<Counter> {
    const raw = await RawClient.connect(t, wsUrl(port, tokenFor(userId)))
    for (const topic of topics) await raw.request(['1', '1', topic, 'phx_join', {}])
    raw.ws.removeAllListeners('message')
    return new Counter(raw.ws)
  }

  until (n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve()
    this.#wanted = n
    return new Promise((resolve) => { this.#reached = resolve })
  }
}

/** Broadcasts `count` 4 KiB messages over `topics` in turn, in batches that healthy clients absorb, waiting for them after each. */
async function flood (endpoint: Endpoint, topics: string[], count: number, healthy: Counter[]): Promise<void> {
  const pad = 'p'.repeat(4096)
  const BATCH = 16
  for (let i = 0; i < count; i += BATCH) {
    for (let j = i; j < Math.min(count, i + BATCH); j++) endpoint.broadcast(topics[j % topics.length] as string, 'n', { seq: j, pad })
    await Promise.all(healthy.map((c) => c.until(Math.min(count, i + BATCH))))
  }
}

const LIMIT = 256 * 1024
const COUNT = 6000 // 24 MiB to each client: far more than the kernel's socket buffers hold for a client that does not read.

for (const policy of ['drop-oldest', 'conflate'] as OutboundPolicy[]) {
  t.test(`a stalled client under ${policy}: the others get everything, its queue stays under the limit, its drops are counted`, async (t) => {
    const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT, outboundPolicy: policy })
    const topics = policy === 'conflate' ? ['room:p', 'room:q'] : ['room:p']
    const healthy = await Promise.all([1, 2, 3].map((id) => Counter.connect(t, port, id, topics)))
    const stalled = await Counter.connect(t, port, 666, topics)
    const stalledId = endpoint.connections().find((c) => c.assigns.userId === 666)?.id as string
    stalled.ws.pause()

    await flood(endpoint, topics, COUNT, healthy)
    for (const c of healthy) {
      t.equal(c.received, COUNT, 'a healthy client received every message')
      for (const topic of topics) {
        const seqs = c.seqs.get(topic) ?? []
        t.strictSame(seqs, Array.from({ length: COUNT / topics.length }, (_, i) => i * topics.length + topics.indexOf(topic)), `in order on ${topic}`)
      }
    }
    const info = endpoint.connections().find((c) => c.id === stalledId)
    const stats = endpoint.stats()
    t.ok(info !== undefined, 'the stalled client is still connected')
    t.ok((info?.peakPendingBytes ?? Infinity) <= LIMIT, `its queued bytes peaked at ${info?.peakPendingBytes}, under the ${LIMIT} limit`)
    t.ok((info?.pendingBytes ?? Infinity) <= LIMIT)
    t.ok(stats.maxPendingBytes <= LIMIT)
    t.ok((info?.drops ?? 0) > 0, `${info?.drops} messages dropped for it`)
    t.equal(stats.drops.dropped_oldest + stats.drops.conflated + stats.drops.dropped_newest, info?.drops, 'every drop counted by reason, all of them its')
    if (policy === 'conflate') t.ok(stats.drops.conflated > 0, 'conflated')
    else t.equal(stats.drops.conflated, 0)

    // It reads again: whatever was not dropped arrives, in order, ending with the newest of each topic.
    stalled.ws.resume()
    await stalled.until(COUNT - (info?.drops ?? 0))
    t.equal(stalled.received + (info?.drops ?? 0), COUNT, 'received + dropped = sent: nothing lost uncounted')
    for (const topic of topics) {
      const seqs = stalled.seqs.get(topic) ?? []
      t.ok(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)), `in order on ${topic}`)
      t.equal(seqs.at(-1), COUNT - topics.length + topics.indexOf(topic), `the newest message of ${topic} was kept`)
    }
  })
}

t.test('a stalled client under disconnect is closed with 4001; the others get everything', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT, outboundPolicy: 'disconnect' })
  const healthy = await Promise.all([1, 2].map((id) => Counter.connect(t, port, id, ['room:p'])))
  const stalled = await Counter.connect(t, port, 666, ['room:p'])
  const stalledClosed = new Promise<number>((resolve) => stalled.ws.once('close', (code) => resolve(code)))
  const closed = waitFor<{ reason: string, code: number }>(endpoint, 'socket:closed')
  stalled.ws.pause()
  await flood(endpoint, ['room:p'], COUNT, healthy)
  for (const c of healthy) t.equal(c.received, COUNT)
  stalled.ws.resume()
  t.match(await closed, { reason: 'outbound_limit', code: CLOSE_CODES.outboundLimit })
  t.equal(await stalledClosed, CLOSE_CODES.outboundLimit, 'the client sees 4001 once it reads again')
  const stats = endpoint.stats()
  t.equal(stats.disconnects.outbound_limit, 1)
  t.strictSame(stats.drops, { dropped_oldest: 0, conflated: 0, dropped_newest: 0, mailbox_full: 0 })
  t.equal(stats.connections, 2)
})
