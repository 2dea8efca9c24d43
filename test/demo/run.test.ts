// The demo end to end: the example tree, a feed, official Phoenix clients in their own process.
// Each real recording is replayed at max speed and the test computes the expected deliveries
// itself (its own reading of the file, not lib/demo/replay), from the recording and the clients'
// joins; then the chaos run, whose counts must add up, and bad options.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { Socket } from 'phoenix'
import t from 'tap'
import { WebSocket } from 'ws'
import { DemoRun, demoFailed } from '../../lib/demo/run.js'
import type { DemoOptions, DemoSummary } from '../../lib/demo/run.js'
import { recording } from './support.js'

const SPEC = fileURLToPath(new URL('../../examples/demo/tree.json', import.meta.url))

/** Runs a demo and returns its summary with the clients' joins (topic → clients). */
async function run (options: Omit<DemoOptions, 'spec' | 'port'>): Promise<{ summary: DemoSummary, subscribers: Record<string, number>, restartsSeen: number, deliveredAfterRestart: number }> {
  const demo = new DemoRun({ spec: SPEC, port: 0, ...options })
  let subscribers: Record<string, number> = {}
  let restartsSeen = 0
  let deliveredAtFirstRestart = -1
  let lastDelivered = 0
  demo.on('ready', (r) => { subscribers = r.subscribers })
  demo.on('progress', (p) => { lastDelivered = p.delivered })
  demo.on('restart', () => {
    if (restartsSeen++ === 0) deliveredAtFirstRestart = lastDelivered
  })
  const summary = await demo.run()
  return { summary, subscribers, restartsSeen, deliveredAfterRestart: deliveredAtFirstRestart < 0 ? 0 : summary.delivered - deliveredAtFirstRestart }
}

/** Events per key, read by this test alone: NDJSON, or `<unix-seconds>: <json>` lines (exchange). */
function countKeys (file: string, key: string): Map<string, number> {
  const raw = readFileSync(file)
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8')
  const counts = new Map<string, number>()
  for (const line of text.split('\n')) {
    const json = /^\d+(\.\d+)?: /.test(line) ? line.slice(line.indexOf(': ') + 2) : line
    if (!json.startsWith('{')) continue
    const value = (JSON.parse(json) as Record<string, unknown>)[key]
    if (typeof value !== 'string' || value === '') continue
    counts.set(value, (counts.get(value) ?? 0) + 1)
  }
  return counts
}

function expectedFrom (counts: Map<string, number>, subscribers: Record<string, number>): number {
  let n = 0
  for (const [topic, clients] of Object.entries(subscribers)) n += (counts.get(topic.slice('feed:'.length)) ?? 0) * clients
  return n
}

const SUMMARY_FIELDS = ['pushed', 'expected_deliveries', 'delivered', 'lost', 'misrouted', 'dropped', 'restarts', 'events_per_s', 'latency_ms'] as const

t.test('built-in feed: every delivery accounted for, summary fields present', async (t) => {
  const { summary, subscribers } = await run({ clients: 6, topicsPerClient: 2, speed: 'max', generator: { count: 5000, keys: 8, seed: 3 } })
  for (const field of SUMMARY_FIELDS) t.ok(field in summary, `summary has ${field}`)
  for (const p of ['p50', 'p90', 'p99', 'max'] as const) t.type(summary.latency_ms[p], 'number', `latency_ms.${p} is a number`)
  t.equal(summary.pushed, 5000, 'the whole generated feed was pushed')
  t.equal(summary.broadcast, 5000)
  t.equal(summary.lost, 0)
  t.equal(summary.dropped, 0)
  t.equal(Object.values(subscribers).reduce((a, b) => a + b, 0), 12, 'six clients joined two topics each')
  t.ok(summary.expected_deliveries > 0)
  t.equal(summary.delivered, summary.expected_deliveries, 'delivered == expected')
  t.equal(summary.misrouted, 0)
  t.equal(summary.duplicates, 0)
  t.equal(summary.missing, 0)
  t.equal(summary.latency_negative, 0, 'one machine, one clock: no delivery received before it was pushed')
  t.same(demoFailed(summary, false), [])
})

t.test('another client on the same topics (the page, a viewer) does not enter the accounting', async (t) => {
  const demo = new DemoRun({ spec: SPEC, port: 0, clients: 4, topicsPerClient: 2, speed: 1, generator: { count: 4000, rate: 2000, keys: 4, seed: 5 } })
  let outside = 0
  let posted = 0
  let viewer: Socket | undefined
  demo.on('ready', (r) => {
    void (async () => {
      // What a person opening the page does: its token, the official client, a join.
      const page = await (await fetch(r.pageUrl)).text()
      const token = /token: "([^"]+)"/.exec(page)?.[1]
      posted = (await fetch(r.pageUrl, { method: 'POST', body: 'x' })).status
      viewer = new Socket(r.url, { transport: WebSocket, params: { token } })
      viewer.connect()
      viewer.onMessage((m) => { if ((m as { event?: string }).event === 'event') outside++ })
      viewer.channel(r.topics[0] as string).join()
    })()
  })
  const summary = await demo.run()
  viewer?.disconnect()
  t.ok(outside > 0, `the viewer received events too (${outside})`)
  t.equal(posted, 405, 'the page answers only GET and HEAD')
  t.equal(summary.delivered, summary.expected_deliveries, 'delivered == expected, for the demo\'s clients')
  t.equal(summary.not_broadcast, 0)
  t.equal(summary.missing, 0)
  t.same(demoFailed(summary, false), [])
})

for (const name of ['github', 'wikipedia', 'coinbase'] as const) {
  const rec = recording(name)
  t.test(`replay of the ${name} recording: delivered == expected, computed from the recording`, { skip: rec.skip }, async (t) => {
    t.ok(existsSync(rec.file), `recording ${rec.file} exists`)
    const clients = name === 'github' ? 50 : 20
    const { summary, subscribers } = await run({ replay: { file: rec.file, key: rec.key }, speed: 'max', clients })
    const counts = countKeys(rec.file, rec.key)
    let events = 0
    for (const n of counts.values()) events += n
    const expected = expectedFrom(counts, subscribers)
    t.equal(summary.pushed, events, `every keyed event of the recording was pushed (${events})`)
    for (const topic of Object.keys(subscribers)) t.ok(counts.has(topic.slice('feed:'.length)), `${topic} occurs in the recording`)
    if (name === 'github') t.ok(expected >= 100_000, `at least 100,000 expected deliveries (${expected})`)
    if (name === 'coinbase') t.ok(summary.skipped.no_key >= 3, `the subscriptions messages were skipped (${summary.skipped.no_key} without product_id)`)
    t.equal(summary.expected_deliveries, expected, 'the demo expects what the test computed')
    t.equal(summary.delivered, expected, 'delivered == expected')
    t.equal(summary.lost, 0)
    t.equal(summary.misrouted, 0)
    t.equal(summary.duplicates, 0)
  })
}

t.test('chaos: stages are killed and restarted, delivery goes on, and the counts add up', async (t) => {
  const { summary, restartsSeen, deliveredAfterRestart } = await run({
    clients: 6,
    chaos: true,
    chaosEveryMs: 1200,
    durationMs: 6000,
    generator: { rate: 3000, keys: 6 },
  })
  t.ok(summary.restarts >= 2, `the supervisor restarted stages (${summary.restarts})`)
  t.equal(restartsSeen, summary.restarts, 'each restart was reported as it happened')
  t.ok(deliveredAfterRestart > 0, `deliveries went on after the first restart (${deliveredAfterRestart})`)
  t.equal(summary.unaccounted, 0, 'pushed = broadcast + dropped + lost')
  t.equal(summary.pushed, summary.broadcast + summary.dropped + summary.lost)
  t.equal(summary.delivered + summary.not_broadcast + summary.dropped_at_socket + summary.missing, summary.expected_deliveries)
  t.equal(summary.missing, 0, 'every delivery fanned out was received or counted as dropped')
  t.equal(summary.misrouted, 0)
  t.equal(summary.duplicates, 0)
  t.same(demoFailed(summary, true), [])
})

t.test('bad options are refused before anything starts', async (t) => {
  t.throws(() => new DemoRun({ spec: SPEC, clients: 0 }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.clients must be an integer from 1/ })
  t.throws(() => new DemoRun({ spec: SPEC, speed: -1 }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.speed/ })
  t.throws(() => new DemoRun({ spec: SPEC, port: 70000 }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.port/ })
  await t.rejects(new DemoRun({ spec: SPEC, port: 0, replay: { file: '/nonexistent/recording.ndjson', key: 'k' } }).run(), { code: 'ENOENT' })
  await t.rejects(new DemoRun({ spec: fileURLToPath(new URL('../../examples/tree.json', import.meta.url)), port: 0 }).run(), { message: /needs a tree with a producer stage/ })
  // Keys but no times: the message names the time as missing, not the key.
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-demo-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const noTime = join(dir, 'no-time.ndjson')
  writeFileSync(noTime, '{"k":"a"}\n{"k":"b"}\n')
  await t.rejects(new DemoRun({ spec: SPEC, port: 0, replay: { file: noTime, key: 'k' } }).run(), {
    code: 'ERR_INVALID_ARGUMENT',
    message: `${noTime}: no line has both a usable key "k" and a time (field "time" or a "<unix-seconds>: " prefix); 2 lines read, skipped: no_time 2`,
  })
})
