// Latency histograms: a recorder per thread hands over deltas; the main thread's histogram adds
// them up and answers with what was recorded, within HDR's 0.1%, with exact count, sum, min and max.
import t from 'tap'
import type { Test } from 'tap'
import { HIGHEST_MICROS, LatencyHistogram, LatencyRecorder } from '../../lib/metrics/latency.js'
import type { LatencySnapshot } from '../../lib/metrics/latency.js'
import { prng } from '../helpers.js'

/** Within HDR's precision (3 significant digits) of `expected`, plus the 1 µs rounding of recording. */
function near (t: Test, actual: number, expected: number, what: string): void {
  t.ok(Math.abs(actual - expected) <= expected * 0.001 + 0.001, `${what}: ${actual} ≈ ${expected}`)
}

t.test('a histogram holds what it was given: count, sum, min, max exact; percentiles within 0.1%', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  for (let i = 1; i <= 1000; i++) recorder.record(i / 10)   // 0.1 ms .. 100 ms
  t.equal(recorder.count, 1000)
  const snapshot = recorder.take()
  t.match(snapshot, { count: 1000, sumUs: 50_050_000, minUs: 100, maxUs: 100_000, clamped: 0 })
  t.type(snapshot.histogram, 'string')
  t.equal(recorder.count, 0, 'take() starts afresh')

  const histogram = new LatencyHistogram()
  histogram.merge(JSON.parse(JSON.stringify(snapshot)) as LatencySnapshot)  // survives JSON, as it survives postMessage
  const s = histogram.summary()
  t.equal(s.count, 1000)
  t.equal(s.min, 0.1)
  t.equal(s.max, 100)
  t.equal(s.mean, 50.05)
  t.equal(histogram.sum, 50_050)
  near(t, s.p50, 50, 'p50')
  near(t, s.p90, 90, 'p90')
  near(t, s.p99, 99, 'p99')
  near(t, s.p999, 99.9, 'p999')
  t.equal(s.clamped, 0)
})

t.test('nothing recorded: an empty snapshot, zeros, and merging it changes nothing', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  const empty = recorder.take()
  t.same(empty, { count: 0, sumUs: 0, minUs: 0, maxUs: 0, clamped: 0, histogram: '' })
  const histogram = new LatencyHistogram()
  histogram.merge(empty)
  t.same(histogram.summary(), { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, clamped: 0 })
  t.same(histogram.buckets([0.001, 1]), [0, 0])
})

t.test('deltas of several threads add up to the histogram of one thread recording everything', async (t) => {
  const random = prng(42)
  const values = Array.from({ length: 20_000 }, () => Math.exp(random() * Math.log(200_000)) / 1000)  // 1 µs .. 200 ms, log-uniform
  const one = new LatencyRecorder()
  const parts = [new LatencyRecorder(), new LatencyRecorder(), new LatencyRecorder()]
  t.teardown(() => { for (const r of [one, ...parts]) r.destroy() })
  const whole = new LatencyHistogram()
  const merged = new LatencyHistogram()
  values.forEach((v, i) => {
    one.record(v)
    ;(parts[i % 3] as LatencyRecorder).record(v)
    // Several takes per recorder: each snapshot is a delta.
    if (i % 5000 === 4999) for (const r of parts) merged.merge(r.take())
  })
  whole.merge(one.take())
  for (const r of parts) merged.merge(r.take())
  t.same(merged.summary(), whole.summary())
  t.same(merged.buckets([0.0001, 0.001, 0.01, 0.1]), whole.buckets([0.0001, 0.001, 0.01, 0.1]))
  t.equal(merged.count, values.length)
})

t.test('a weight records one value for many events', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  recorder.record(2, 30)
  recorder.record(4, 10)
  const snapshot = recorder.take()
  t.match(snapshot, { count: 40, sumUs: 2000 * 30 + 4000 * 10, minUs: 2000, maxUs: 4000 })
  const histogram = new LatencyHistogram()
  histogram.merge(snapshot)
  t.equal(histogram.summary().p50, 2)
  t.equal(histogram.summary().p90, 4)
})

t.test('values outside 1 µs – 1 h are recorded at that end and counted as clamped', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  recorder.record(0)
  recorder.record(-5)         // a clock that went backwards between threads
  recorder.record(Number.NaN) // an envelope without ts
  recorder.record(2 * 3_600_000)
  recorder.record(1)
  const snapshot = recorder.take()
  t.match(snapshot, { count: 5, clamped: 4, minUs: 1, maxUs: HIGHEST_MICROS })
  const histogram = new LatencyHistogram()
  histogram.merge(snapshot)
  const s = histogram.summary()
  t.equal(s.min, 0.001)
  t.equal(s.max, 3_600_000)
  t.equal(s.clamped, 4)
})

t.test('buckets: cumulative counts at or under each bound, as Prometheus le buckets', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  // 0.5 ms ×10, exactly 1 ms ×5, 3 ms ×20, 40 ms ×2, 2 s ×1
  recorder.record(0.5, 10)
  recorder.record(1, 5)
  recorder.record(3, 20)
  recorder.record(40, 2)
  recorder.record(2000, 1)
  const histogram = new LatencyHistogram()
  histogram.merge(recorder.take())
  t.same(histogram.buckets([0.00025, 0.001, 0.0025, 0.005, 0.05, 1, 10]), [0, 15, 15, 35, 37, 37, 38])
  t.equal(histogram.count, 38)
  t.throws(() => histogram.buckets([]), { code: 'ERR_INVALID_ARGUMENT' })
  t.throws(() => histogram.buckets([0.01, 0.005]), { code: 'ERR_INVALID_ARGUMENT', message: /boundsSeconds\[1\] must be greater/ })
  t.throws(() => histogram.buckets([0, 1]), { code: 'ERR_INVALID_ARGUMENT' })
})

t.test('a malformed snapshot is refused and leaves the histogram unchanged', async (t) => {
  const recorder = new LatencyRecorder()
  t.teardown(() => recorder.destroy())
  recorder.record(1)
  recorder.record(2)
  const good = recorder.take()
  const histogram = new LatencyHistogram()
  histogram.merge(good)
  const before = histogram.summary()
  t.throws(() => histogram.merge({ ...good, histogram: 'not base64 at all' }), { code: 'ERR_PROTOCOL' })
  t.throws(() => histogram.merge({ ...good, count: 3 }), { code: 'ERR_PROTOCOL', message: /holds 2 values/ })
  t.same(histogram.summary(), before)
})
