// The clients process, driven from here as the demo drives it: start (ready once all joined),
// progress, report waiting for the expected deliveries, stop with the final summary, and the
// process gone afterwards; join failures; option errors; a killed process.
import t from 'tap'
import { DemoClients } from '../../lib/demo/clients.js'
import type { ClientsExit, DemoClientsOptions } from '../../lib/demo/clients.js'
import type { ClientsProgress } from '../../lib/demo/protocol.js'
import { InvalidArgumentError } from '../../lib/errors.js'
import { waitFor } from '../helpers.js'
import { payload, startFeedEndpoint, tokenFor } from './support.js'

const KEYS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']

function alive (pid: number | undefined): boolean {
  try {
    process.kill(pid as number, 0)
    return true
  } catch {
    return false
  }
}

t.test('20 clients on a seeded choice of topics: ready, progress, report, stop', async (t) => {
  const { endpoint, url } = await startFeedEndpoint(t)
  const clients = await DemoClients.start({
    url,
    tokens: Array.from({ length: 20 }, (_, i) => tokenFor(i)),
    topics: { keys: KEYS, perClient: 2, seed: 5 },
    progressMs: 50,
  })
  t.teardown(() => clients.destroy())
  t.equal(clients.ready.clients, 20)
  t.equal(clients.ready.joined, 40)
  t.equal(clients.topics.length, 20)
  const subscribers: Record<string, number> = {}
  for (const list of clients.topics) for (const topic of list) subscribers[topic] = (subscribers[topic] ?? 0) + 1
  t.same(clients.ready.subscribers, subscribers, 'the process joined the topics the rule gave')
  t.same(Object.keys(subscribers).sort(), KEYS.map((k) => `feed:${k}`).sort(), 'every key has subscribers')

  let id = 0
  let expected = 0
  for (let round = 0; round < 10; round++) {
    for (const key of KEYS) expected += endpoint.broadcast(`feed:${key}`, 'event', payload(++id, key, { round }))
  }
  t.equal(expected, 10 * 40, 'each broadcast reached its subscribers')
  const progress = waitFor<ClientsProgress>(clients, 'progress', (p) => p.delivered > 0)
  const summary = await clients.report({ atLeast: expected, waitMs: 10_000 })
  t.equal(summary.delivered, expected, 'every delivery arrived')
  for (const key of KEYS) t.equal(summary.perTopic[`feed:${key}`], 10 * (subscribers[`feed:${key}`] as number), `feed:${key}`)
  t.equal(summary.misrouted, 0)
  t.equal(summary.duplicates, 0)
  t.equal(summary.errors, 0)
  t.equal(summary.latency.count, expected)
  t.ok((await progress).delivered > 0, 'progress reports deliveries')

  // A wrong-key payload on a joined topic is a misroute at every subscriber of it.
  const misrouted = endpoint.broadcast('feed:alpha', 'event', payload(++id, 'beta'))
  const sentinel = endpoint.broadcast('feed:alpha', 'event', payload(++id, 'alpha'))
  const exit = waitFor<ClientsExit>(clients, 'exit')
  await clients.report({ atLeast: expected + sentinel, waitMs: 10_000 })
  const final = await clients.stop()
  t.equal(final.misrouted, misrouted)
  t.equal(final.delivered, expected + sentinel)
  t.equal(final.clients, 20)
  t.same(await clients.stop(), final, 'stop is idempotent')
  t.same(await exit, { code: 0, signal: null }, 'the process exited 0, and says so')
  t.notOk(alive(clients.pid), 'the process is gone')
  await t.rejects(clients.report(), { code: 'ERR_CLIENTS_EXITED' }, 'no report from a stopped process')
  t.equal(endpoint.stats().connections, 0, 'every client disconnected')
})

t.test('a refused join: start rejects with the reason (once the process has exited)', async (t) => {
  const { url } = await startFeedEndpoint(t)
  const start = DemoClients.start({ url, tokens: [tokenFor(0), tokenFor(1)], topics: [['feed:a'], ['feed:forbidden']] })
  await t.rejects(start, { code: 'ERR_CLIENTS_JOIN', name: 'ClientsJoinError', message: '1 join(s) failed, the first: client 1 feed:forbidden: refused: forbidden' })
})

t.test('a killed process: exit with an error, pending requests rejected', async (t) => {
  const { url } = await startFeedEndpoint(t)
  const clients = await DemoClients.start({ url, tokens: [tokenFor(0)], topics: [['feed:a']], progressMs: 0 })
  const exit = waitFor<ClientsExit>(clients, 'exit')
  const report = clients.report({ atLeast: 1, waitMs: 60_000 })   // waits for a delivery that never comes
  clients.destroy()
  await t.rejects(report, { code: 'ERR_CLIENTS_EXITED', message: /^the clients process ended unexpectedly \(signal SIGKILL\)/ })
  const e = await exit
  t.equal(e.signal, 'SIGKILL')
  t.match(e.error, { code: 'ERR_CLIENTS_EXITED' })
  await t.rejects(clients.stop(), { code: 'ERR_CLIENTS_EXITED' })
})

t.test('option errors: nothing is started', async (t) => {
  const ok: DemoClientsOptions = { url: 'ws://127.0.0.1:1/socket', tokens: ['t'], topics: [['feed:a']] }
  const bad: Array<[Partial<DemoClientsOptions>, string]> = [
    [{ url: 'http://x/socket' }, 'options.url must be a ws:// or wss:// URL naming the socket\'s mount path (e.g. "ws://127.0.0.1:4000/socket"), got "http://x/socket"'],
    [{ url: 'ws://x/socket/websocket' }, 'options.url must be a ws:// or wss:// URL naming the socket\'s mount path (e.g. "ws://127.0.0.1:4000/socket"), got "ws://x/socket/websocket"'],
    [{ tokens: [] }, 'options.tokens must be a non-empty array of connect tokens (one per client), got an array'],
    [{ tokens: ['t', 7 as never] }, 'options.tokens[1] must be a non-empty string, got 7'],
    [{ topics: [['feed:a'], ['feed:b']] }, 'options.topics must have one list per token (1), got 2'],
    [{ topics: [[]] }, 'options.topics[0] must be a non-empty array of topics, got an array'],
    [{ topics: [['feed:a', 'feed:a']] }, 'options.topics[0] repeats "feed:a"'],
    [{ topics: { keys: ['a'], perClient: 0, seed: 1 } }, 'options.topics.perClient must be a positive integer, got 0'],
    [{ topics: 'feed:a' as never }, 'options.topics must be one list of topics per client, or a rule { keys, perClient, seed }, got "feed:a"'],
    [{ joinTimeoutMs: 0 }, 'options.joinTimeoutMs must be a positive integer (at most 2147483647), got 0'],
    [{ dedupWindow: 1 }, 'options.dedupWindow must be at least 2, got 1'],
    [{ progressMs: -1 }, 'options.progressMs must be an integer from 0 to 2147483647, got -1'],
  ]
  for (const [override, message] of bad) {
    await t.rejects(DemoClients.start({ ...ok, ...override }), new InvalidArgumentError(message), message)
  }
})
