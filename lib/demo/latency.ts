/**
 * Push-to-receipt latency of the demo clients: an HDR histogram in microseconds (3 significant
 * digits, so a percentile is within 0.1% of the true value), summarised in milliseconds.
 *
 * Latency is the receiving process's `performance.timeOrigin + performance.now()` minus the
 * payload's `ts`, stamped in the server's process on the same clock; both processes take
 * `timeOrigin` from the wall clock, so they agree to within a fraction of a millisecond on one
 * machine. A negative result (clock disagreement) is recorded as 0 and counted in `negative`.
 */
import { build } from 'hdr-histogram-js'
import type { Histogram } from 'hdr-histogram-js'

/** Percentiles in ms; null when nothing was recorded. */
export interface LatencySummary {
  /** Samples recorded. */
  count: number
  p50: number | null
  p90: number | null
  p99: number | null
  p999: number | null
  max: number | null
  /** Samples that came out negative and were recorded as 0. */
  negative: number
}

/** @internal Records latencies; one per clients process. */
export class LatencyRecorder {
  readonly #histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true })
  #negative = 0

  /** Records one latency, in ms. */
  record (ms: number): void {
    let us = Math.round(ms * 1000)
    if (us < 0) {
      this.#negative++
      us = 0
    }
    this.#histogram.recordValue(us)
  }

  /** Samples so far. */
  get count (): number {
    return this.#histogram.totalCount
  }

  /** The percentiles so far, in ms. */
  summary (): LatencySummary {
    const h = this.#histogram
    const count = h.totalCount
    if (count === 0) return { count, p50: null, p90: null, p99: null, p999: null, max: null, negative: this.#negative }
    return {
      count,
      p50: h.getValueAtPercentile(50) / 1000,
      p90: h.getValueAtPercentile(90) / 1000,
      p99: h.getValueAtPercentile(99) / 1000,
      p999: h.getValueAtPercentile(99.9) / 1000,
      max: h.maxValue / 1000,
      negative: this.#negative,
    }
  }
}
