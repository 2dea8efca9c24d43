// Replay: the three real recordings (keys, times, skipped lines), a synthetic file with bad lines
// (plain and gzip, detected by content), the `<unix-seconds>: ` prefix, time formats, dotted keys,
// pacing by `speed`, looping, aborting, and errors.
import { Buffer } from 'node:buffer'
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { InvalidArgumentError } from '../../lib/errors.js'
import type { FeedEvent } from '../../lib/demo/feed.js'
import { Replay, scanKeys, openLines } from '../../lib/demo/replay.js'
import { recording, tempFile } from './support.js'

/** The first `n` events of a replay at max speed. */
async function take (replay: Replay, n: number): Promise<FeedEvent[]> {
  const events: FeedEvent[] = []
  for await (const e of replay) {
    events.push(e)
    if (events.length === n) break
  }
  return events
}

t.test('real recordings', async (t) => {
  const github = recording('github')
  t.test('github-events: keyed by repo_name, ISO times of 2015 H1', { skip: github.skip }, async (t) => {
    t.ok(existsSync(github.file), `recording ${github.file} exists`)
    const replay = new Replay(github.file, { key: github.key, speed: 'max' })
    const events = await take(replay, 2000)
    const stats = replay.stats()
    t.equal(events.length, 2000)
    t.equal(stats.lines, 2000, 'every line of the first 2000 is an event')
    t.same(stats.skipped, { empty: 0, not_json: 0, not_object: 0, no_key: 0, no_time: 0 })
    const first = events[0] as FeedEvent
    t.equal(first.key, 'gradle/gradle')
    t.equal(first.time, Date.parse('2015-01-01T00:06:35.000Z'))
    t.equal(first.event.repo_name, first.key, 'the key is the event\'s repo_name')
    t.ok(events.every((e, i) => i === 0 || e.time >= (events[i - 1] as FeedEvent).time), 'times do not go back')
    t.ok(events.every((e) => e.key.includes('/')), 'keys are owner/name')
  })

  const wikipedia = recording('wikipedia')
  t.test('wikipedia-edits: keyed by channel, ms times of 2015-09-12', { skip: wikipedia.skip }, async (t) => {
    t.ok(existsSync(wikipedia.file), `recording ${wikipedia.file} exists`)
    const replay = new Replay(wikipedia.file, { key: wikipedia.key, speed: 'max' })
    const events = await take(replay, 2000)
    t.equal(replay.stats().lines, 2000)
    const first = events[0] as FeedEvent
    t.equal(first.key, '#en.wikipedia')
    t.equal(first.time, Date.parse('2015-09-12T00:46:58.771Z'))
    t.ok(events.every((e) => e.key.startsWith('#') && e.key === e.event.channel), 'keys are the channel field (#xx.wikipedia)')
    t.ok(events.every((e) => new Date(e.time).toISOString().startsWith('2015-09-12')), 'all on 2015-09-12')
  })

  const coinbase = recording('coinbase')
  t.test('coinbase-ws: `<seconds>: json` lines keyed by product_id, the prefix is the time', { skip: coinbase.skip }, async (t) => {
    t.ok(existsSync(coinbase.file), `recording ${coinbase.file} exists`)
    const replay = new Replay(coinbase.file, { key: coinbase.key, speed: 'max' })
    const events = await take(replay, 500)
    const stats = replay.stats()
    // Line 1 is the connection marker, 2-4 the subscribe requests sent (`wss://...`), 5-7 the
    // `subscriptions` acknowledgements (JSON objects without product_id).
    t.same(stats.skipped, { empty: 0, not_json: 4, not_object: 0, no_key: 3, no_time: 0 })
    t.equal(stats.lines, 507)
    t.ok(events.length / stats.lines > 0.95, 'the key is on most lines')
    const first = events[0] as FeedEvent
    t.equal(first.key, first.event.product_id)
    t.ok(Math.abs(first.time - 1618677817062) < 1000, `the first time is the prefix, in ms (${first.time})`)
    // Snapshots have no `time` field; the prefix carries them.
    t.ok(events.some((e) => e.event.type === 'snapshot'), 'snapshots (no time field) are replayed')
  })

  const scans = [
    { name: 'github-events', rec: github, events: 198_024, keys: 45, top: { key: 'GoogleCloudPlatform/kubernetes', count: 40_031 }, skipped: { empty: 0, not_json: 0, not_object: 0, no_key: 0, no_time: 0 } },
    { name: 'wikipedia-edits', rec: wikipedia, events: 39_244, keys: 51, top: { key: '#en.wikipedia', count: 11_549 }, skipped: { empty: 0, not_json: 0, not_object: 0, no_key: 0, no_time: 0 } },
    // 2 blank lines at the end, 4 `wss://` lines, 3 `subscriptions` acknowledgements.
    { name: 'coinbase-ws', rec: coinbase, events: 9943, keys: 10, top: { key: 'SKL-USD', count: 2699 }, skipped: { empty: 2, not_json: 4, not_object: 0, no_key: 3, no_time: 0 } },
  ]
  for (const c of scans) {
    t.test(`scanKeys ${c.name}: every key with its count, most frequent first`, { skip: c.rec.skip }, async (t) => {
      t.ok(existsSync(c.rec.file), `recording ${c.rec.file} exists`)
      const scan = await scanKeys(c.rec.file, c.rec.key)
      t.equal(scan.events, c.events, 'events (as PROVENANCE.md counts them)')
      t.equal(scan.keys.length, c.keys, 'distinct keys')
      t.same(scan.keys[0], c.top, 'the most frequent key')
      t.equal(scan.keys.reduce((n, k) => n + k.count, 0), scan.events, 'counts add up to the events')
      t.ok(scan.keys.every((k, i) => i === 0 || k.count <= (scan.keys[i - 1] as { count: number }).count), 'sorted by count')
      t.same(scan.skipped, c.skipped, 'skipped lines by reason')
      t.equal(scan.lines, scan.events + Object.values(c.skipped).reduce((a, b) => a + b, 0))
    })
  }
})

// One line per case; the comment says how it counts.
const SYNTHETIC = [
  '{"id":1,"room":"a","time":"2024-01-01T00:00:00.000Z"}', //  event a
  '', //                                                         empty
  '   ', //                                                      empty
  'not json at all', //                                          not_json
  '{"id":2,"room":"b",', //                                      not_json (truncated)
  '[1,2,3]', //                                                  not_object
  '42', //                                                       not_object
  'null', //                                                     not_object
  '{"id":3,"time":"2024-01-01T00:00:01.000Z"}', //               no_key (missing)
  '{"id":4,"room":"","time":"2024-01-01T00:00:01.000Z"}', //     no_key (empty string)
  '{"id":5,"room":{"x":1},"time":"2024-01-01T00:00:01.000Z"}', // no_key (an object)
  '{"id":6,"room":"c"}', //                                      no_time (missing)
  '{"id":7,"room":"c","time":"yesterday"}', //                   no_time (not a date)
  '{"id":8,"room":7,"time":1704067202}', //                      event "7", epoch seconds
  '{"id":9,"room":"b","time":1704067203000}\r', //               event b, epoch ms, CRLF
  '{"id":10,"room":"a","time":"1704067204.5"}', //               event a, seconds as a string
  '1704067205.25: {"id":11,"room":"b","time":"1999-01-01T00:00:00Z"}', // event b, the prefix wins
  '12x: {"id":12,"room":"b"}', //                                not_json (bad prefix)
].join('\n') + '\n'

const EXPECTED_SKIPS = { empty: 2, not_json: 3, not_object: 3, no_key: 3, no_time: 2 }
const EXPECTED_EVENTS = [
  { key: 'a', time: Date.parse('2024-01-01T00:00:00.000Z'), id: 1 },
  { key: '7', time: 1704067202000, id: 8 },
  { key: 'b', time: 1704067203000, id: 9 },
  { key: 'a', time: 1704067204500, id: 10 },
  { key: 'b', time: 1704067205250, id: 11 },
]

t.test('a synthetic file with bad lines: skipped lines counted by reason, plain and gzip', async (t) => {
  // Names that lie about the content: gzip is detected by its magic bytes.
  const plain = tempFile(t, 'plain.ndjson.gz', SYNTHETIC)
  const gzipped = tempFile(t, 'gzipped.ndjson', SYNTHETIC, true)
  for (const [file, gzip] of [[plain, false], [gzipped, true]] as const) {
    const source = await openLines(file)
    source.close()
    t.equal(source.gzip, gzip, `${file}: gzip detected as ${gzip}`)
    const replay = new Replay(file, { key: 'room', speed: 'max' })
    const events: FeedEvent[] = []
    for await (const e of replay) events.push(e)
    t.same(events.map((e) => ({ key: e.key, time: e.time, id: e.event.id })), EXPECTED_EVENTS, 'the good lines, in order, keys and times read')
    const stats = replay.stats()
    t.same(stats.skipped, EXPECTED_SKIPS, 'skipped by reason')
    t.equal(stats.lines, 18)
    t.equal(stats.events, 5)
    t.equal(stats.passes, 1)
    const scan = await scanKeys(file, 'room')
    t.same(scan.keys, [{ key: 'a', count: 2 }, { key: 'b', count: 2 }, { key: '7', count: 1 }].sort((x, y) => y.count - x.count || (x.key < y.key ? -1 : 1)))
    t.same(scan.skipped, EXPECTED_SKIPS, 'scanKeys skips the same lines')
  }
})

t.test('a dotted key path, and a field whose name has a dot', async (t) => {
  const file = tempFile(t, 'nested.ndjson', [
    '{"repo":{"name":"x/y"},"time":1}',
    '{"repo":{"id":1},"time":2}',
    '{"repo":"flat","time":3}',
    '{"repo.name":"literal","repo":{"name":"nested"},"time":4}',
  ].join('\n'))
  const replay = new Replay(file, { key: 'repo.name', speed: 'max' })
  const keys: string[] = []
  for await (const e of replay) keys.push(e.key)
  t.same(keys, ['x/y', 'literal'], 'walked the path; a field named exactly "repo.name" wins')
  t.equal(replay.stats().skipped.no_key, 2)
})

t.test('a key too long for a topic (feed:<key> over 255 bytes) is skipped as no_key', async (t) => {
  const file = tempFile(t, 'long.ndjson', [
    `{"k":"${'a'.repeat(250)}","time":1}`,
    `{"k":"${'a'.repeat(251)}","time":2}`,
    `{"k":"${'é'.repeat(126)}","time":3}`,
    `{"k":"${'é'.repeat(125)}","time":4}`,
  ].join('\n'))
  const replay = new Replay(file, { key: 'k', speed: 'max' })
  const times: number[] = []
  for await (const e of replay) times.push(e.time)
  t.same(times, [1000, 4000], '250 bytes fit, 251 do not; é is 2 bytes: 250 fit, 252 do not')
  t.equal(replay.stats().skipped.no_key, 2)
})

t.test('an empty file gives nothing; a file of one byte is not gzip', async (t) => {
  for (const content of ['', '{']) {
    const replay = new Replay(tempFile(t, 'tiny', content), { key: 'k', speed: 'max' })
    const events: FeedEvent[] = []
    for await (const e of replay) events.push(e)
    t.equal(events.length, 0)
  }
})

/** A recording of `n` events `stepMs` apart, keys k0, k1, ... */
function paced (n: number, stepMs: number): string {
  const lines: string[] = []
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ key: `k${i}`, time: 1_700_000_000_000 + i * stepMs }))
  return lines.join('\n')
}

t.test('pacing: a 1 s recording at 10x takes about 0.1 s, in order', async (t) => {
  const file = tempFile(t, 'second.ndjson', paced(11, 100))
  const started = performance.now()
  const keys: string[] = []
  for await (const e of new Replay(file, { key: 'key', speed: 10 })) keys.push(e.key)
  const elapsed = performance.now() - started
  t.same(keys, Array.from({ length: 11 }, (_, i) => `k${i}`), 'in recorded order')
  t.ok(elapsed >= 80, `did not finish before ~0.08 s (took ${elapsed.toFixed(1)} ms)`)
})

t.test('pacing: max does not wait (a recording of 1,000 s)', async (t) => {
  const file = tempFile(t, 'long.ndjson', paced(3, 500_000))
  const started = performance.now()
  const keys: string[] = []
  for await (const e of new Replay(file, { key: 'key', speed: 'max' })) keys.push(e.key)
  const elapsed = performance.now() - started
  t.same(keys, ['k0', 'k1', 'k2'])
  t.ok(elapsed < 10_000, `finished at once, not in 1,000 s (took ${elapsed.toFixed(1)} ms)`)
})

t.test('abort: a paced replay waiting for its next event ends at once', async (t) => {
  const file = tempFile(t, 'slow.ndjson', paced(2, 1_000_000))   // the second event is due in 1,000 s
  const controller = new AbortController()
  const replay = new Replay(file, { key: 'key', speed: 1, signal: controller.signal })
  const keys: string[] = []
  for await (const e of replay) {
    keys.push(e.key)
    setImmediate(() => controller.abort())
  }
  t.same(keys, ['k0'], 'ended before the second event')
  t.equal(replay.stats().events, 1)
})

t.test('loop: starts over at the end', async (t) => {
  const file = tempFile(t, 'loop.ndjson', paced(3, 1))
  const replay = new Replay(file, { key: 'key', speed: 'max', loop: true })
  const events = await take(replay, 7)
  t.same(events.map((e) => e.key), ['k0', 'k1', 'k2', 'k0', 'k1', 'k2', 'k0'])
  t.equal(replay.stats().passes, 3)
  t.equal(replay.stats().lines, 7)

  // A recording with no event at all does not loop forever.
  const empty = new Replay(tempFile(t, 'none.ndjson', 'garbage\n'), { key: 'key', speed: 'max', loop: true })
  for await (const e of empty) t.fail(`unexpected ${JSON.stringify(e)}`)
  t.equal(empty.stats().passes, 1)
})

t.test('errors', async (t) => {
  await t.rejects(take(new Replay('/nonexistent/recording.ndjson', { key: 'k' }), 1), { code: 'ENOENT' }, 'a missing file rejects the iteration')
  await t.rejects(scanKeys('/nonexistent/recording.ndjson', 'k'), { code: 'ENOENT' })
  const corrupt = tempFile(t, 'corrupt.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('garbagegarbage')]))
  await t.rejects(take(new Replay(corrupt, { key: 'k', speed: 'max' }), 1), { code: 'Z_DATA_ERROR' }, 'a corrupt gzip rejects')
  const whole = gzipSync(paced(1000, 1))
  const truncated = tempFile(t, 'truncated.gz', whole.subarray(0, whole.length - 100))
  await t.rejects(scanKeys(truncated, 'key'), { code: 'Z_BUF_ERROR' }, 'a truncated gzip rejects')

  const bad: Array<[() => unknown, string]> = [
    [() => new Replay('f', { key: '' }), 'options.key must be a field name or a dotted path (e.g. "repo.name"), got ""'],
    [() => new Replay('f', { key: 'a..b' }), 'options.key must not have an empty segment, got "a..b"'],
    [() => new Replay('f', { key: 'k', speed: 0 }), 'options.speed must be a positive number (times faster than recorded) or "max", got 0'],
    [() => new Replay('f', { key: 'k', speed: 'fast' as never }), 'options.speed must be a positive number (times faster than recorded) or "max", got "fast"'],
    [() => new Replay('f', { key: 'k', time: 7 as never }), 'options.time must be a field name or a dotted path (e.g. "repo.name"), got 7'],
    [() => new Replay('f', { key: 'k', loop: 'yes' as never }), 'options.loop must be a boolean, got "yes"'],
    [() => new Replay('', { key: 'k' }), 'file must be a non-empty string, got ""'],
  ]
  for (const [fn, message] of bad) t.throws(fn, new InvalidArgumentError(message), message)
  await t.rejects(scanKeys('f', 'x.'), new InvalidArgumentError('key must not have an empty segment, got "x."'))
  t.throws(bad[0]?.[0] as () => unknown, { code: 'ERR_INVALID_ARGUMENT', name: 'InvalidArgumentError' })
})
