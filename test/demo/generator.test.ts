// The built-in feed: deterministic for a seed, skewed key popularity, Coinbase-shaped events,
// pacing by its own times, and option errors.
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { InvalidArgumentError } from '../../lib/errors.js'
import type { FeedEvent } from '../../lib/demo/feed.js'
import { FeedGenerator } from '../../lib/demo/generator.js'
import type { GeneratorOptions } from '../../lib/demo/generator.js'

async function all (options: GeneratorOptions): Promise<FeedEvent[]> {
  const events: FeedEvent[] = []
  for await (const e of new FeedGenerator(options)) events.push(e)
  return events
}

const START = Date.parse('2026-01-01T00:00:00Z')

t.test('the same seed gives the same feed; another seed another', async (t) => {
  const a = await all({ seed: 42, count: 2000, speed: 'max', startTime: START })
  const b = await all({ seed: 42, count: 2000, speed: 'max', startTime: START })
  const c = await all({ seed: 43, count: 2000, speed: 'max', startTime: START })
  t.equal(a.length, 2000)
  t.same(a, b, 'seed 42 twice: the same events, keys and times')
  t.notSame(a.map((e) => e.key), c.map((e) => e.key), 'seed 43: other keys')
  t.same(new FeedGenerator({ seed: 42 }).keys, new FeedGenerator({ seed: 42 }).keys, 'the same key names')

  const generator = new FeedGenerator({ seed: 42, count: 50, speed: 'max', startTime: START })
  const first: FeedEvent[] = []
  const second: FeedEvent[] = []
  for await (const e of generator) first.push(e)
  for await (const e of generator) second.push(e)
  t.same(first, second, 'each iteration starts the same feed over')
  t.equal(generator.emitted, 50)
})

t.test('events look like the exchange feed and carry their key', async (t) => {
  const events = await all({ seed: 1, count: 5000, keys: 10, speed: 'max', startTime: START })
  t.ok(events.every((e) => e.event.product_id === e.key), 'product_id is the key')
  t.ok(events.every((e) => /^[A-Z]{3,5}-(USD|EUR|GBP|BTC)$/.test(e.key)), 'keys are product ids')
  t.ok(events.every((e, i) => i === 0 || e.time >= (events[i - 1] as FeedEvent).time), 'times do not go back')
  t.equal(events[0]?.time, START, 'the first event is at startTime')
  t.ok(events.every((e) => e.event.time === new Date(e.time).toISOString()), 'the event\'s time is its ISO time')
  const types = new Map<unknown, number>()
  for (const e of events) types.set(e.event.type, (types.get(e.event.type) ?? 0) + 1)
  t.ok((types.get('l2update') ?? 0) > 4000, 'mostly l2update')
  t.ok((types.get('match') ?? 0) > 0 && (types.get('ticker') ?? 0) > 0, 'some matches and tickers')
  const span = ((events.at(-1) as FeedEvent).time - START) / 1000
  t.ok(span > 4 && span < 6, `5,000 events at the default 1,000/s span about 5 s of feed time (${span.toFixed(2)} s)`)
})

t.test('key popularity is skewed as the weights say', async (t) => {
  const generator = new FeedGenerator({ seed: 7, keys: 20, skew: 1.1, count: 50_000, speed: 'max', startTime: START })
  const weights = generator.keys
  t.equal(weights.length, 20)
  t.ok(Math.abs(weights.reduce((s, k) => s + k.weight, 0) - 1) < 1e-9, 'weights add up to 1')
  t.ok(weights.every((k, i) => i === 0 || k.weight < (weights[i - 1] as { weight: number }).weight), 'the most popular first')
  const counts = new Map<string, number>()
  for await (const e of generator) counts.set(e.key, (counts.get(e.key) ?? 0) + 1)
  for (const rank of [0, 1, 19]) {
    const { key, weight } = weights[rank] as { key: string, weight: number }
    const share = (counts.get(key) ?? 0) / 50_000
    t.ok(Math.abs(share - weight) < 0.2 * weight, `rank ${rank} (${key}): share ${share.toFixed(4)} ~ weight ${weight.toFixed(4)}`)
  }
  const uniform = new FeedGenerator({ keys: 4, skew: 0 }).keys
  t.same(uniform.map((k) => k.weight), [0.25, 0.25, 0.25, 0.25], 'skew 0 is uniform')
})

t.test('paced by its own times; max does not wait', async (t) => {
  // 20 events at 200/s and speed 2: ~50 ms of wall time for ~100 ms of feed time.
  const started = performance.now()
  const events = await all({ seed: 3, count: 20, rate: 200, speed: 2, startTime: START })
  const elapsed = performance.now() - started
  const feedMs = (events.at(-1) as FeedEvent).time - START
  t.ok(elapsed >= 0.8 * feedMs / 2, `took ${elapsed.toFixed(1)} ms for ${feedMs.toFixed(1)} ms of feed at 2x`)

  const maxStarted = performance.now()
  const many = await all({ seed: 3, count: 3000, rate: 1, speed: 'max', startTime: START })
  t.equal(many.length, 3000)
  t.ok(performance.now() - maxStarted < 10_000, 'max: 3,000 events of a 1/s feed (50 min) at once')
})

t.test('abort ends a paced feed at once', async (t) => {
  const controller = new AbortController()
  const generator = new FeedGenerator({ rate: 0.001, seed: 1, signal: controller.signal })   // one event per ~17 min
  let n = 0
  for await (const _ of generator) {
    n++
    setImmediate(() => controller.abort())
  }
  t.equal(n, 1)
})

t.test('option errors', async (t) => {
  const bad: Array<[GeneratorOptions, string]> = [
    [{ keys: 0 }, 'options.keys must be an integer from 1 to 10000, got 0'],
    [{ rate: -1 }, 'options.rate must be a positive number of events per second, got -1'],
    [{ speed: 0 }, 'options.speed must be a positive number (times faster than recorded) or "max", got 0'],
    [{ seed: 1.5 }, 'options.seed must be an integer from 0 to 4294967295, got 1.5'],
    [{ skew: -0.1 }, 'options.skew must be a number >= 0, got -0.1'],
    [{ count: 2.5 }, 'options.count must be a non-negative integer, got 2.5'],
    [{ startTime: Number.NaN }, 'options.startTime must be ms since the epoch, got NaN'],
  ]
  for (const [options, message] of bad) t.throws(() => new FeedGenerator(options), new InvalidArgumentError(message), message)
})
