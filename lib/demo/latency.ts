/**
 * Push-to-receipt latency of the demo clients: an HDR histogram in microseconds (3 significant
 * digits, so a percentile is within 0.1% of the true value), summarised in milliseconds.
 *
 * Latency is the receiving process's `performance.timeOrigin + performance.now()` minus the
 * payload's `ts`, stamped in the server's process on the same clock; both processes take
 * `timeOrigin` from the wall clock, so they agree to within a fraction of a millisecond on one
 * machine. A negative result (clock disagreement) is recorded as the lowest value (1 µs) and counted
 * in `negative`.
 */
import { LatencyHistogram, LatencyRecorder as ThreadRecorder } from '../metrics/latency.js'

/** Percentiles in ms; null when nothing was recorded. */
export interface LatencySummary {
  /** Samples recorded. */
  count: number
  p50: number | null
  p90: number | null
  p99: number | null
  p999: number | null
  max: number | null
  /** Samples that came out negative, recorded as 1 µs. */
  negative: number
}

/**
 * @internal Records latencies; one per clients process. The runtime's own recorder and histogram
 * (lib/metrics/latency.ts) underneath: values go to the recorder on the hot path, and each
 * summary moves them into the running histogram.
 */
export class LatencyRecorder {
  readonly #recorder = new ThreadRecorder()
  readonly #total = new LatencyHistogram()
  #negative = 0

  /** Records one latency, in ms. */
  record (ms: number): void {
    // The recorder clamps it to its lowest value (1 µs): as good as 0 for a summary in ms.
    if (ms < 0) this.#negative++
    this.#recorder.record(ms)
  }

  /** Samples so far. */
  get count (): number {
    return this.#total.count + this.#recorder.count
  }

  /** The percentiles so far, in ms. */
  summary (): LatencySummary {
    this.#total.merge(this.#recorder.take())
    const s = this.#total.summary()
    if (s.count === 0) return { count: 0, p50: null, p90: null, p99: null, p999: null, max: null, negative: this.#negative }
    return { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max, negative: this.#negative }
  }
}
