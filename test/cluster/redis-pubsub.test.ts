// The Redis cluster adapter across two servers (two runtimes in two child processes sharing Redis
// at REDIS_URL, on a channel prefix of this run's own): a broadcast made on either server, from
// its pipeline or with runtime.broadcast, reaches the subscribers of its topic on both servers
// exactly once, in the order its server made it, and no one else.
import t from 'tap'
import { join, nextMessage, phoenixSocket, tokenFor } from '../channels/support.js'
import { prng } from '../helpers.js'
import { REDIS_URL, Server, collect, missingRedis, range, seqs, uniquePrefix } from './support.js'

const why = await missingRedis()
if (why !== undefined) {
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(why)
  else t.plan(0, `skipped: ${why}`)
} else {
  t.test('a client of each server receives both servers\' broadcasts exactly once, in order per publisher', async (t) => {
    const prefix = uniquePrefix()
    const [a, b] = await Promise.all([Server.start(t, REDIS_URL, prefix), Server.start(t, REDIS_URL, prefix)]) as [Server, Server]
    const alice = phoenixSocket(t, a.port, tokenFor(1))
    const bob = phoenixSocket(t, b.port, tokenFor(2))
    const carol = phoenixSocket(t, b.port, tokenFor(3))
    const aliceSeen = collect(alice)
    const bobSeen = collect(bob)
    const carolSeen = collect(carol)
    t.equal((await join(alice, 'feed:x')).status, 'ok')
    t.equal((await join(bob, 'feed:x')).status, 'ok')
    t.equal((await join(carol, 'feed:other')).status, 'ok')

    const N = 500
    const M = 20
    await Promise.all([
      a.push('feed:x', 0, N, 'A-pipe'), b.push('feed:x', 0, N, 'B-pipe'),
      a.broadcast('feed:x', 0, M, 'A-call'), b.broadcast('feed:x', 0, M, 'B-call'),
    ])
    // A fence from each server: a server's broadcasts arrive in order, so once both fences are in,
    // so is everything before them, duplicates included.
    const fenced = (socket: typeof alice): Promise<unknown> => Promise.all(['A-fence', 'B-fence'].map((tag) => nextMessage(socket, (m) => m.payload.tag === tag, 15_000)))
    const fences = Promise.all([fenced(alice), fenced(bob)])
    await Promise.all([a.push('feed:x', 0, 1, 'A-fence'), b.push('feed:x', 0, 1, 'B-fence')])
    await fences

    for (const [name, seen] of [['alice (server A)', aliceSeen], ['bob (server B)', bobSeen]] as const) {
      t.same(seqs(seen, 'A-pipe'), range(0, N), `${name}: every event pushed on A, once, in order`)
      t.same(seqs(seen, 'B-pipe'), range(0, N), `${name}: every event pushed on B, once, in order`)
      t.same(seqs(seen, 'A-call'), range(0, M), `${name}: every runtime.broadcast of A, once, in order`)
      t.same(seqs(seen, 'B-call'), range(0, M), `${name}: every runtime.broadcast of B, once, in order`)
      t.equal(seen.length, 2 * N + 2 * M + 2, `${name}: nothing else`)
      t.ok(seen.every((m) => m.topic === 'feed:x' && m.event === 'msg'))
    }
    t.same(carolSeen, [], 'a client of another topic receives none of it')

    const [sa, sb] = await Promise.all([a.stats(), b.stats()])
    const total = N + M + 1
    t.match(sa.broadcaster.pubsub, { status: 'up', published: total, dropped: 0, received: total, missed: 0, invalid: 0 }, 'A published its own and received B\'s')
    t.match(sb.broadcaster.pubsub, { status: 'up', published: total, dropped: 0, received: total, missed: 0, invalid: 0 }, 'B published its own and received A\'s')
    t.not(sa.broadcaster.pubsub?.node, sb.broadcaster.pubsub?.node, 'each server has its own node id')
    t.same(sa.dropped, {}, 'nothing dropped')
    const [ha, hb] = await Promise.all([a.health(), b.health()])
    t.match(ha, { status: 'ok', components: { broadcaster: { status: 'ok', pubsub: { adapter: 'redis', status: 'up' } } } })
    t.match(hb, { status: 'ok' })
    const res = await fetch(`http://127.0.0.1:${a.port}/health`)
    t.equal(res.status, 200)
    t.match(await res.json(), { status: 'ok', pubsub: { adapter: 'redis', status: 'up' } })
  })

  t.test('1,000 users across two servers each receive exactly the events pushed to them on either server', async (t) => {
    const prefix = uniquePrefix()
    const [a, b] = await Promise.all([Server.start(t, REDIS_URL, prefix), Server.start(t, REDIS_URL, prefix)]) as [Server, Server]
    const USERS = 1000
    const PER_SERVER = 4000
    const clients = await Promise.all(range(0, USERS).map(async (id) => {
      const socket = phoenixSocket(t, id % 2 === 0 ? a.port : b.port, tokenFor(id))
      const seen = collect(socket)
      t.equal((await join(socket, `user:${id}`)).status, 'ok')
      return { id, socket, seen }
    }))
    t.equal((await join(clients[0]!.socket, 'user:1')).status, 'error', 'a user may not join another\'s topic')

    // The test, not the servers, decides who gets what: per server, PER_SERVER events to random users.
    const random = prng(7)
    const expected = new Map<string, number[]>()
    const plan: Array<{ server: Server, tag: string, user: number, seq: number }> = []
    for (const [server, tag] of [[a, 'A'], [b, 'B']] as const) {
      for (let seq = 0; seq < PER_SERVER; seq++) {
        const user = Math.floor(random() * USERS)
        plan.push({ server, tag, user, seq })
        const key = `${user}/${tag}`
        expected.set(key, [...(expected.get(key) ?? []), seq])
      }
    }
    await Promise.all(plan.map((p) => p.server.push(`user:${p.user}`, p.seq, 1, p.tag)))
    // A fence to every user from both servers (see the first test).
    const fences = Promise.all(clients.flatMap((c) => ['A-fence', 'B-fence'].map((tag) => nextMessage(c.socket, (m) => m.payload.tag === tag, 20_000))))
    await Promise.all(clients.flatMap((c) => [a.push(`user:${c.id}`, 0, 1, 'A-fence'), b.push(`user:${c.id}`, 0, 1, 'B-fence')]))
    await fences

    let wrong = 0
    for (const c of clients) {
      if (!c.seen.every((m) => m.topic === `user:${c.id}`)) wrong++
      for (const tag of ['A', 'B']) {
        t.same(seqs(c.seen, tag), expected.get(`${c.id}/${tag}`) ?? [], `user ${c.id}: exactly what was pushed to them on ${tag}, in order`)
      }
      t.equal(c.seen.length, (expected.get(`${c.id}/A`)?.length ?? 0) + (expected.get(`${c.id}/B`)?.length ?? 0) + 2, `user ${c.id}: nothing else`)
    }
    t.equal(wrong, 0, 'no user received a frame of anyone else\'s topic')
  })
}
