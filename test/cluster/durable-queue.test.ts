// The durable queue (queue: { kind: 'redis-streams' }) in one runtime, on Redis at REDIS_URL with
// a stream and group of this run's own: pushDurable resolves with the entry id once Redis has it,
// the producer reads on demand with the group, the broadcaster delivers in order and acknowledges
// (nothing left pending); push() keeps its contract; a Redis that is not there is a rejection and
// a counted drop, never a silent loss; the spec is checked.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { start } from '../../lib/runtime.js'
import type { Runtime } from '../../lib/runtime.js'
import type { BroadcasterStats } from '../../lib/builtins/broadcaster.js'
import { parseTreeSpec } from '../../lib/supervisor/spec.js'
import { SECRET, join, nextMessage, phoenixSocket, tokenFor } from '../channels/support.js'
import { REDIS_URL, collect, freePort, missingRedis, range, seqs, uniquePrefix, until } from './support.js'

const channel = fileURLToPath(new URL('../fixtures/channels/feed.ts', import.meta.url))

function tree (queue: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return {
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', queue, ...extra },
      {
        id: 'broadcaster',
        module: 'builtin:broadcaster',
        subscribeTo: [{ id: 'source', maxDemand: 100 }],
        endpoint: { port: 0, secret: SECRET, channels: [['feed:*', channel]] },
      },
    ],
  }
}

t.test('the spec: queue is checked, and only a producer of builtin:queue takes a redis-streams one', async (t) => {
  const problems = (spec: unknown): string => {
    try {
      parseTreeSpec(spec)
      return ''
    } catch (err) {
      return (err as Error).message
    }
  }
  const ok = { kind: 'redis-streams', url: 'redis://127.0.0.1:6379', stream: 's', group: 'g' }
  t.equal(problems(tree(ok)), '', 'a valid durable queue')
  t.equal(problems(tree({ kind: 'memory' })), '', 'memory, said explicitly')
  t.match(problems(tree({ ...ok, url: 'http://x' })), /children\[0\]\.queue\.url:? must be a redis:\/\/ or rediss:\/\/ URL/)
  t.match(problems(tree({ ...ok, stream: 'a b' })), /children\[0\]\.queue\.stream:? must be a non-empty string without spaces/)
  t.match(problems(tree({ ...ok, group: undefined })), /children\[0\]\.queue\.group/)
  t.match(problems(tree({ ...ok, claimIdleMs: 0 })), /children\[0\]\.queue\.claimIdleMs/)
  t.match(problems(tree({ ...ok, bogus: 1 })), /bogus/)
  t.match(problems({ children: [{ id: 'p', stage: 'producer', module: './x.js', queue: ok }] }), /children\[0\]\.module must be "builtin:queue" with a redis-streams queue/)
  t.match(problems(tree(ok, { args: { a: 1 } })), /children\[0\]\.args: a redis-streams queue takes its settings from queue/)
  t.match(problems({ children: [{ id: 'p', stage: 'producer', module: 'builtin:queue' }, { id: 'c', stage: 'producer_consumer', module: 'builtin:queue', subscribeTo: ['p'], queue: ok }] }), /children\[1\]\.queue is for producers/)
})

const why = await missingRedis()
if (why !== undefined) {
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(why)
  else t.test(`durable queue on Redis: skipped: ${why}`, async (t) => { t.plan(0, why) })
} else {
  t.test('pushDurable: confirmed ids, delivered in order on each topic, every entry acknowledged', async (t) => {
    const prefix = uniquePrefix()
    const stream = `${prefix}stream`
    const admin = new Redis(REDIS_URL)
    t.teardown(async () => { await admin.del(stream); admin.disconnect() })
    const runtime: Runtime = await start(tree({ kind: 'redis-streams', url: REDIS_URL, stream, group: 'g', blockMs: 100 }))
    t.teardown(() => runtime.close())
    const { port } = await runtime.endpointAddress() as { port: number }
    const socket = phoenixSocket(t, port, tokenFor(1))
    const seen = collect(socket)
    t.equal((await join(socket, 'feed:a')).status, 'ok')
    t.equal((await join(socket, 'feed:b')).status, 'ok')

    const N = 2000
    const ids = await Promise.all(range(0, N).map((seq) => runtime.pushDurable('source', { seq, tag: 'x' }, { topic: seq % 2 === 0 ? 'feed:a' : 'feed:b', event: 'msg' })))
    t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'each resolves with a stream entry id')
    t.equal(new Set(ids).size, N, 'all distinct')
    const entries = await admin.xrange(stream, '-', '+')
    t.same(entries.map(([id]) => id), ids, 'in the stream, in push order, under those ids')
    t.equal(runtime.push('source', { seq: N, tag: 'x' }, { topic: 'feed:a', event: 'msg' }), true, 'push() on a durable queue keeps its boolean contract')
    const last = nextMessage(socket, (m) => m.payload.seq === N, 10_000)
    await last
    const onA = seen.filter((m) => m.topic === 'feed:a').map((m) => m.payload.seq as number)
    const onB = seen.filter((m) => m.topic === 'feed:b').map((m) => m.payload.seq as number)
    t.same(onA, range(0, N / 2 + 1).map((i) => i * 2), 'feed:a: every event once, in push order')
    t.same(onB, range(0, N / 2).map((i) => i * 2 + 1), 'feed:b: every event once, in push order')
    t.same(seqs(seen, 'x').length, N + 1)
    await until('every entry is acknowledged', async () => (await admin.xpending(stream, 'g'))[0] === 0)
    const stats = await runtime.call('broadcaster', { op: 'stats' }) as BroadcasterStats
    t.match(stats.durable, { acked: N + 1, ackFailed: 0, duplicates: 0 })
    t.match(await runtime.call('source', { op: 'stats' }), { stream, group: 'g', read: N + 1, claimed: 0, invalid: 0 })
    t.equal(runtime.metrics().pushed, N + 1, 'metrics count confirmed pushes')
    t.match(await runtime.health(), { status: 'ok', components: { 'queue:source': { status: 'ok', queue: { stream, group: 'g', redis: 'up', lastError: null } } } })
    await until('/health has the queue, up', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`)
      const body = await res.json() as { queues?: Record<string, string> }
      return res.status === 200 && body.queues?.source === 'up'
    })
  })

  t.test('entries left pending by a reader that died are claimed after claimIdleMs and delivered', async (t) => {
    const prefix = uniquePrefix()
    const stream = `${prefix}stream`
    const admin = new Redis(REDIS_URL)
    t.teardown(async () => { await admin.del(stream); admin.disconnect() })
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM')
    const runtime: Runtime = await start(tree({ kind: 'redis-streams', url: REDIS_URL, stream, group: 'g', claimIdleMs: 300, blockMs: 100 }))
    t.teardown(() => runtime.close())
    const { port } = await runtime.endpointAddress() as { port: number }
    const socket = phoenixSocket(t, port, tokenFor(1))
    const seen = collect(socket)
    t.equal((await join(socket, 'feed:a')).status, 'ok')
    // A reader that read three entries and died without acknowledging them, then a fourth entry and
    // one that is not an event: in one transaction, so the runtime's reader (blocked on the group)
    // is served only after the dead reader took the first three.
    const { encodeEntry, ENTRY_FIELD } = await import('../../lib/queue/entry.js')
    const multi = admin.multi()
    for (let seq = 0; seq < 4; seq++) multi.xadd(stream, '*', ENTRY_FIELD, encodeEntry(Date.now(), 'feed:a', 'msg', { seq, tag: 'y' }))
    multi.xadd(stream, '*', 'junk', 'not an event')
    multi.xreadgroup('GROUP', 'g', 'dead-reader', 'COUNT', 3, 'STREAMS', stream, '>')
    await multi.exec()
    await until('all four arrived', async () => seqs(seen, 'y').length >= 4)
    t.same(seqs(seen, 'y').slice().sort(), [0, 1, 2, 3], 'the three claimed and the one never read, once each')
    t.same(seqs(seen, 'y').slice(-3), [0, 1, 2], 'after a claim, the claimed come later than newer entries: no order across a claim')
    await until('nothing pending', async () => (await admin.xpending(stream, 'g'))[0] === 0)
    t.match(await runtime.call('source', { op: 'stats' }), { claimed: 3, read: 2, invalid: 1 })
  })

  t.test('a start that fails (the port is taken) leaves no Redis connection behind: the process ends by itself', async (t) => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { blocker.close() })
    const taken = (blocker.address() as AddressInfo).port
    const stream = `${uniquePrefix()}failed-start`
    const script = `
      import { start } from ${JSON.stringify(new URL('../../lib/runtime.ts', import.meta.url).href)}
      const spec = ${JSON.stringify(tree({ kind: 'redis-streams', url: REDIS_URL, stream, group: 'g' }))}
      spec.children[1].endpoint.port = ${taken}
      start(spec).then(() => console.log('started'), (err) => console.log(err.code))
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
    clearTimeout(timer)
    t.equal(out.trim(), 'ERR_ACTOR_INIT', 'start rejected')
    t.equal(signal, null, 'the process ended on its own (not killed after 20 s)')
    t.equal(code, 0)
    const admin = new Redis(REDIS_URL)
    await admin.del(stream)
    admin.disconnect()
  })

  t.test('Redis not there: pushDurable rejects ERR_QUEUE_UNAVAILABLE, push() counts queue_unavailable; pushDurable on memory refused', async (t) => {
    const port = await freePort()
    const runtime: Runtime = await start(tree({ kind: 'redis-streams', url: `redis://127.0.0.1:${port}`, stream: 's', group: 'g', connectTimeoutMs: 200 }))
    t.teardown(() => runtime.destroy())
    const dropped: Array<{ reason: string, count: number }> = []
    runtime.on('stage:dropped', (e) => dropped.push(e))
    await t.rejects(runtime.pushDurable('source', { a: 1 }, { topic: 'feed:a' }), { code: 'ERR_QUEUE_UNAVAILABLE', name: 'QueueUnavailableError' })
    runtime.push('source', { a: 2 }, { topic: 'feed:a' })
    await until('the push is counted', async () => dropped.length === 2)
    t.same(dropped.map((d) => [d.reason, d.count]), [['queue_unavailable', 1], ['queue_unavailable', 1]])
    t.equal(runtime.metrics().pushed, 0, 'nothing accepted')
    // Health says so: runtime.health() has the queue's writer, and /health (fed by the runtime's reports) goes 503.
    t.match(await runtime.health(), { status: 'degraded', components: { 'queue:source': { status: 'degraded', queue: { stage: 'source', stream: 's', group: 'g', redis: 'down' } }, broadcaster: { status: 'ok' } } })
    const { port: httpPort } = await runtime.endpointAddress()
    await until('/health reports the queue down', async () => (await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 503)
    t.match(await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json(), { status: 'degraded', queues: { source: 'down' } })
    const memory = await start({ children: [{ id: 'q', stage: 'producer', module: 'builtin:queue' }] })
    t.teardown(() => memory.close())
    await t.rejects(memory.pushDurable('q', { a: 1 }), { code: 'ERR_INVALID_ARGUMENT', message: /queue is in memory/ })
  })
}
