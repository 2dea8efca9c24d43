// The latency recorder: percentiles in ms within HDR's precision, negatives clamped and counted.
import t from 'tap'
import { LatencyRecorder } from '../../lib/demo/latency.js'

t.test('percentiles of known samples', async (t) => {
  const r = new LatencyRecorder()
  for (let i = 1; i <= 1000; i++) r.record(i / 10)   // 0.1 ms .. 100 ms
  const s = r.summary()
  t.equal(s.count, 1000)
  const near = (actual: number | null, expected: number): boolean => actual !== null && Math.abs(actual - expected) <= expected * 0.001 + 0.001
  t.ok(near(s.p50, 50), `p50 ${s.p50}`)
  t.ok(near(s.p90, 90), `p90 ${s.p90}`)
  t.ok(near(s.p99, 99), `p99 ${s.p99}`)
  t.ok(near(s.p999, 99.9), `p999 ${s.p999}`)
  t.ok(near(s.max, 100), `max ${s.max}`)
  t.equal(s.negative, 0)
})

t.test('nothing recorded: nulls; negative latencies are recorded as the lowest value (1 µs) and counted', async (t) => {
  const r = new LatencyRecorder()
  t.same(r.summary(), { count: 0, p50: null, p90: null, p99: null, p999: null, max: null, negative: 0 })
  r.record(-0.5)
  r.record(2)
  const s = r.summary()
  t.equal(s.count, 2)
  t.equal(s.negative, 1)
  t.equal(s.p50, 0.001)
})

t.test('long latencies (minutes) are kept', async (t) => {
  const r = new LatencyRecorder()
  r.record(120_000)
  t.ok(Math.abs((r.summary().max as number) - 120_000) < 120, 'a 2-minute latency is kept')
})
