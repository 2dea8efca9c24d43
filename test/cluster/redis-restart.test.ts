// The Redis cluster adapter when Redis goes away: on a redis-server of this test's own (the shared
// one is never disturbed), two servers in child processes. Killed and restarted, the adapter's
// health goes down and comes back, local clients keep receiving, broadcasts made meanwhile are
// counted as dropped, and delivery resumes after the re-subscribe. With its connections cut
// (CLIENT KILL) while events flow, every broadcast is either received or counted.
import t from 'tap'
import { Redis } from 'ioredis'
import { join, nextMessage, phoenixSocket, tokenFor } from '../channels/support.js'
import {
  Server, collect, freePort, killRedisServer, missingRedis, range, seqs, startRedisServer, uniquePrefix, until,
} from './support.js'

const why = await missingRedis(true)
if (why !== undefined) {
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(why)
  else t.plan(0, `skipped: ${why}`)
} else {
  t.test('Redis restarted: health down and back, local delivery goes on, broadcasts meanwhile dropped and counted, delivery resumes', async (t) => {
    const port = await freePort()
    let redis = await startRedisServer(t, port)
    const url = `redis://127.0.0.1:${port}`
    const prefix = uniquePrefix()
    const [a, b] = await Promise.all([Server.start(t, url, prefix), Server.start(t, url, prefix)]) as [Server, Server]
    const local = phoenixSocket(t, a.port, tokenFor(1))
    const remote = phoenixSocket(t, b.port, tokenFor(2))
    const localSeen = collect(local)
    const remoteSeen = collect(remote)
    t.equal((await join(local, 'feed:x')).status, 'ok')
    t.equal((await join(remote, 'feed:x')).status, 'ok')

    const got = (socket: typeof local, tag: string, seq: number): Promise<unknown> => nextMessage(socket, (m) => m.payload.tag === tag && m.payload.seq === seq, 10_000)
    let arrived = got(remote, 'before', 49)
    await a.push('feed:x', 0, 50, 'before')
    await arrived

    await killRedisServer(redis)
    await until('both servers report their adapter down', async () => (await a.health()).status === 'degraded' && (await b.health()).status === 'degraded')
    const down = await a.health()
    t.match(down.components.broadcaster, { status: 'degraded', endpoint: { status: 'ok' }, pubsub: { adapter: 'redis', status: 'down' } }, 'runtime.health(): the adapter is down, the endpoint serves')
    const res = await fetch(`http://127.0.0.1:${a.port}/health`)
    t.equal(res.status, 503, '/health is not green while broadcasts are being lost')
    t.match(await res.json(), { status: 'degraded', pubsub: { status: 'down' } })

    arrived = Promise.all([got(local, 'down', 29), got(local, 'down-call', 4)])
    await a.push('feed:x', 0, 30, 'down')
    await a.broadcast('feed:x', 0, 5, 'down-call')
    await arrived
    t.same(seqs(localSeen, 'down'), range(0, 30), 'this server\'s clients still receive its broadcasts')
    await until('the drops are reported as stage:dropped', async () => (await a.stats()).dropped.pubsub_down === 35)
    const whileDown = await a.stats()
    t.match(whileDown.broadcaster.pubsub, { status: 'down', dropped: 35 }, 'every broadcast made while down is counted as dropped')
    t.same(whileDown.dropped, { pubsub_down: 35 }, 'and reported as stage:dropped with reason pubsub_down')

    redis = await startRedisServer(t, port)
    await until('both servers report their adapter up again', async () => (await a.health()).status === 'ok' && (await b.health()).status === 'ok')
    arrived = Promise.all([got(remote, 'after', 49), got(local, 'after', 49)])
    await a.push('feed:x', 0, 50, 'after')
    await arrived

    t.same(seqs(remoteSeen, 'before'), range(0, 50), 'the other server\'s client: everything before')
    t.same(seqs(remoteSeen, 'down'), [], 'none of what was dropped')
    t.same(seqs(remoteSeen, 'down-call'), [])
    t.same(seqs(remoteSeen, 'after'), range(0, 50), 'and everything after: delivery resumed (re-subscribed)')
    t.equal(remoteSeen.length, 100)
    t.equal(localSeen.length, 135, 'this server\'s client: everything, once')
    const [sa, sb] = await Promise.all([a.stats(), b.stats()])
    t.match(sa.broadcaster.pubsub, { status: 'up', published: 100, dropped: 35, recoveries: 1 })
    t.match(sb.broadcaster.pubsub, { status: 'up', received: 100, missed: 0, recoveries: 1 }, 'what was dropped was never published: no gap')
  })

  t.test('connections cut with CLIENT KILL while events flow: every broadcast is received or counted', async (t) => {
    const port = await freePort()
    await startRedisServer(t, port)
    const url = `redis://127.0.0.1:${port}`
    const prefix = uniquePrefix()
    const [a, b] = await Promise.all([Server.start(t, url, prefix), Server.start(t, url, prefix)]) as [Server, Server]
    const remote = phoenixSocket(t, b.port, tokenFor(2))
    const remoteSeen = collect(remote)
    t.equal((await join(remote, 'feed:y')).status, 'ok')
    const admin = new Redis(url)
    t.teardown(() => admin.disconnect())

    const N = 3000
    const flowing = (async () => {
      for (let i = 0; i < N; i += 100) {
        await a.push('feed:y', i, 100, 'flow')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    await nextMessage(remote, (m) => m.payload.tag === 'flow' && (m.payload.seq as number) >= 500, 10_000)
    const killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub') as number
    t.ok(killed >= 2, `both subscriptions cut (${killed} connections)`)
    await flowing
    await until('both servers report their adapter up again', async () => (await a.health()).status === 'ok' && (await b.health()).status === 'ok')
    const fence = nextMessage(remote, (m) => m.payload.tag === 'fence', 10_000)
    await a.push('feed:y', 0, 1, 'fence')
    await fence

    const received = seqs(remoteSeen, 'flow')
    t.ok(received.every((seq, i) => i === 0 || seq > (received[i - 1] as number)), 'in order, no duplicate')
    const [sa, sb] = await Promise.all([a.stats(), b.stats()])
    const missed = sb.broadcaster.pubsub?.missed ?? -1
    const dropped = sa.broadcaster.pubsub?.dropped ?? -1
    t.equal(received.length + missed + dropped, N, `received ${received.length} + missed here ${missed} + dropped there ${dropped} = all ${N}: nothing silent`)
    t.ok((sb.broadcaster.pubsub?.recoveries ?? 0) >= 1, 'the receiving server re-subscribed')
    t.equal(sa.dropped.pubsub_down ?? 0, dropped, 'the publisher\'s drops are in its telemetry')
  })
}
