// The durable queue across two servers sharing one stream and group (and the Redis pub/sub
// adapter), at the acceptance's scale: 100,000 events pushed with pushDurable (half on each
// server), server A killed with SIGKILL mid-stream (its reader holding entries it had not
// acknowledged), started again, and pushing the rest of its half. Every event Redis confirmed
// (accepted) reaches the broadcaster and the client of the surviving server B at least once
// (counted by unique payload), none is lost, duplicates are counted, the entries the dead reader
// held were claimed, and nothing stays pending. (Order is asserted where it holds: one reader, in
// durable-queue.test.ts; per publisher through pub/sub, in redis-pubsub.test.ts.)
import t from 'tap'
import { Redis } from 'ioredis'
import { join, phoenixSocket, tokenFor } from '../channels/support.js'
import type { ClientMessage } from '../channels/support.js'
import { REDIS_URL, Server, collect, missingRedis, uniquePrefix, until } from './support.js'

const why = await missingRedis()
if (why !== undefined) {
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(why)
  else t.plan(0, `skipped: ${why}`)
} else {
  t.test('SIGKILL mid-stream: every accepted event reaches the surviving server\'s client at least once', async (t) => {
    const prefix = uniquePrefix()
    const stream = `${prefix}stream`
    const queue = { kind: 'redis-streams', url: REDIS_URL, stream, group: 'servers', claimIdleMs: 1000, blockMs: 200 }
    const admin = new Redis(REDIS_URL)
    t.teardown(async () => { await admin.del(stream); admin.disconnect() })
    const servers = await Promise.all([Server.start(t, REDIS_URL, prefix, queue), Server.start(t, REDIS_URL, prefix, queue)]) as [Server, Server]
    let a = servers[0]
    const b = servers[1]
    const client = phoenixSocket(t, b.port, tokenFor(2))
    const seen = collect(client)
    t.equal((await join(client, 'feed:d')).status, 'ok')

    const HALF = 50_000
    let acceptedOnA = 0
    const pushingA = a.pushDurable('feed:d', 0, HALF, 'A', (n) => { acceptedOnA = n }).catch(() => 'killed')
    const pushingB = b.pushDurable('feed:d', 0, HALF, 'B')
    // Mid-stream: A has had a good part of its events confirmed, and its reader is delivering.
    await until('A is mid-stream', async () => acceptedOnA >= 15_000 && seen.length >= 5_000, 30_000)
    await a.kill()
    const acceptedBeforeKill = acceptedOnA
    t.equal(await pushingA, 'killed', 'A died while pushing')
    t.ok(acceptedBeforeKill < HALF, `A was killed mid-stream (${acceptedBeforeKill} of its ${HALF} pushes confirmed)`)
    a = await Server.start(t, REDIS_URL, prefix, queue)
    t.equal(await a.pushDurable('feed:d', acceptedBeforeKill, HALF - acceptedBeforeKill, 'A'), HALF - acceptedBeforeKill, 'A, restarted, pushes the rest of its half')
    t.equal(await pushingB, HALF, 'B\'s pushes all confirmed')

    const unique = new Map<string, number>()
    let counted = 0
    const count = (): void => {
      for (; counted < seen.length; counted++) {
        const p = (seen[counted] as ClientMessage).payload as { tag: string, seq: number }
        const key = `${p.tag}/${p.seq}`
        unique.set(key, (unique.get(key) ?? 0) + 1)
      }
    }
    const missing = (): number => {
      count()
      let n = 0
      for (let seq = 0; seq < HALF; seq++) if (!unique.has(`B/${seq}`)) n++
      for (let seq = 0; seq < HALF; seq++) if (!unique.has(`A/${seq}`)) n++
      return n
    }
    await until('every accepted event reached B\'s client', async () => missing() === 0, 40_000).catch(() => {})
    t.equal(missing(), 0, `none of the ${2 * HALF} accepted events is lost`)
    await until('nothing is left pending in the group', async () => (await admin.xpending(stream, 'servers'))[0] === 0, 10_000).catch(() => {})
    t.equal((await admin.xpending(stream, 'servers'))[0], 0, 'every entry was acknowledged in the end')
    count()
    const duplicates = seen.length - unique.size
    const [sa, sb] = await Promise.all([a.stats(), b.stats()])
    const claimed = (sa.source?.claimed ?? 0) + (sb.source?.claimed ?? 0)
    t.ok(claimed > 0, `the entries the killed reader held were claimed (${claimed}) and delivered`)
    t.equal(unique.size, 2 * HALF, 'B\'s client got exactly the events pushed, none of anyone else\'s')
    t.ok(seen.every((m) => m.topic === 'feed:d'))
    t.comment(`A: ${acceptedBeforeKill} pushes confirmed before the kill; B's client: ${seen.length} frames for ${unique.size} events, ${duplicates} duplicates (an unconfirmed push of A that reached Redis is pushed again after the restart: same payload, new entry id); broadcaster duplicates dropped: B ${sb.broadcaster.durable.duplicates}, restarted A ${sa.broadcaster.durable.duplicates}; claimed ${claimed}`)
    await a.request('close').catch(() => {})
  })
}
