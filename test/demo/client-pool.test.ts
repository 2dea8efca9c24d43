// The demo clients in this process, against a real Endpoint: counts per topic, duplicates,
// latency, the misroute detector on a wrong-key payload, frames of a topic not joined never sent,
// invalid payloads, and joins that fail.
import t from 'tap'
import { ClientPool } from '../../lib/demo/client-pool.js'
import type { ClientsConfig } from '../../lib/demo/protocol.js'
import { payload, startFeedEndpoint, tokenFor } from './support.js'

function config (url: string, topics: string[][], extra: Partial<ClientsConfig> = {}): ClientsConfig {
  return { url, clients: topics.map((list, i) => ({ token: tokenFor(i), topics: list })), joinTimeoutMs: 5000, dedupWindow: 64, progressMs: 0, ...extra }
}

t.test('deliveries per topic, duplicates, latency; misroutes and invalid frames', async (t) => {
  const { endpoint, url } = await startFeedEndpoint(t)
  // client 0: a, b; client 1: a, c; client 2: c
  const pool = new ClientPool(config(url, [['feed:a', 'feed:b'], ['feed:a', 'feed:c'], ['feed:c']]))
  t.teardown(() => pool.close())
  const ready = await pool.start()
  t.same(ready.subscribers, { 'feed:a': 2, 'feed:b': 1, 'feed:c': 2 })
  t.equal(ready.clients, 3)
  t.equal(ready.joined, 5)

  let id = 0
  for (let i = 0; i < 10; i++) t.equal(endpoint.broadcast('feed:a', 'event', payload(++id, 'a', { i })), 2)
  for (let i = 0; i < 5; i++) endpoint.broadcast('feed:b', 'event', payload(++id, 'b'))
  for (let i = 0; i < 3; i++) endpoint.broadcast('feed:c', 'event', payload(++id, 'c'))
  // 20 + 5 + 6 deliveries
  t.ok(await pool.whenDelivered(31, 10_000), 'all 31 deliveries arrived')
  let s = pool.summary()
  t.same(s.perTopic, { 'feed:a': 20, 'feed:b': 5, 'feed:c': 6 })
  t.equal(s.delivered, 31)
  t.equal(s.misrouted, 0)
  t.equal(s.duplicates, 0)
  t.equal(s.invalid, 0)
  t.equal(s.latency.count, 31)
  t.ok(s.latency.p50 !== null && s.latency.p50 >= 0 && s.latency.p50 < 5000, `latency p50 ${s.latency.p50} ms`)

  // A payload keyed for another topic, on a joined topic: the detector counts it (once per subscriber).
  endpoint.broadcast('feed:c', 'event', payload(++id, 'a'))
  // The same id twice on feed:b: a duplicate. Frames of one topic reach a client in order, so
  // once these deliveries are in, the frames before them are counted too.
  const dupId = ++id
  endpoint.broadcast('feed:b', 'event', payload(dupId, 'b'))
  endpoint.broadcast('feed:b', 'event', payload(dupId, 'b'))
  endpoint.broadcast('feed:c', 'event', payload(++id, 'c'))
  t.ok(await pool.whenDelivered(31 + 2 + 2, 10_000))
  s = pool.summary()
  t.equal(s.misrouted, 2, 'the wrong-key payload: misrouted at both subscribers of feed:c')
  t.same(s.misroutedBy, { not_joined: 0, key_mismatch: 2 })
  t.equal(s.duplicates, 1)
  t.match(s.samples[0], /^client \d got feed:c "event" with another key: \{"id":/)

  // A topic client 0 did not join: the endpoint never sends it there, so no client sees a misroute.
  t.equal(endpoint.broadcast('feed:z', 'event', payload(++id, 'z')), 0, 'nobody joined feed:z')
  t.equal(endpoint.broadcast('feed:b', 'event', payload(++id, 'b')), 1, 'feed:b reaches client 0 only')
  // Clients 1 and 2 (feed:c) must not see feed:b's frame either; a frame of feed:c after it tells when they would have.
  endpoint.broadcast('feed:c', 'event', payload(++id, 'c'))
  // A payload that is not {id, ts, key, data}.
  endpoint.broadcast('feed:a', 'event', { hello: 'world' })
  endpoint.broadcast('feed:a', 'event', payload(++id, 'a'))
  t.ok(await pool.whenDelivered(35 + 1 + 2 + 2, 10_000))
  s = pool.summary()
  t.equal(s.misroutedBy.not_joined, 0, 'no frame of a topic not joined')
  t.equal(s.invalid, 2, 'the bad payload, at both subscribers of feed:a')
  t.same(s.perTopic, { 'feed:a': 22, 'feed:b': 8, 'feed:c': 10 })
  t.equal(s.errors, 0)

  await pool.close()
  t.equal(endpoint.broadcast('feed:a', 'event', payload(++id, 'a')), 0, 'after close no client is subscribed')
  t.equal(await pool.whenDelivered(1000, 10_000), false, 'after close, whenDelivered does not wait')
})

t.test('whenDelivered gives up after waitMs', async (t) => {
  const { url } = await startFeedEndpoint(t)
  const pool = new ClientPool(config(url, [['feed:a']]))
  t.teardown(() => pool.close())
  await pool.start()
  t.equal(await pool.whenDelivered(1, 20), false)
  t.equal(await pool.whenDelivered(0, 20), true)
})

t.test('a refused join fails the start, naming the client and topic; every client is disconnected', async (t) => {
  const { endpoint, url } = await startFeedEndpoint(t)
  const pool = new ClientPool(config(url, [['feed:a'], ['feed:a', 'feed:forbidden']]))
  await t.rejects(pool.start(), { code: 'ERR_CLIENTS_JOIN', name: 'ClientsJoinError', message: '1 join(s) failed, the first: client 1 feed:forbidden: refused: forbidden' })
  t.equal(endpoint.broadcast('feed:a', 'event', payload(1, 'a')), 0, 'nobody is left on feed:a')
})

t.test('a bad token: the upgrade is refused, the join times out, the message says why', async (t) => {
  const { url } = await startFeedEndpoint(t)
  const pool = new ClientPool({ url, clients: [{ token: 'not-a-token', topics: ['feed:a'] }], joinTimeoutMs: 300, dedupWindow: 8, progressMs: 0 })
  await t.rejects(pool.start(), { code: 'ERR_CLIENTS_JOIN', message: /^1 join\(s\) failed, the first: client 0 feed:a: no reply within 300 ms \(socket: .*403/ })
})
