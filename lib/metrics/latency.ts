/**
 * Latency histograms: one recorder per thread, one aggregate per measure on the main thread.
 *
 *   worker thread                                  main thread
 *   ─────────────                                  ───────────
 *   recorder.record(now() - env.ts)   (hot path)
 *   every second: recorder.take() ──postMessage──► histogram.merge(snapshot)
 *                 (delta, then reset)              histogram.summary() / .buckets(bounds)
 *
 * Values are kept as integer microseconds in an HDR histogram (hdr-histogram-js) covering
 * 1 µs to 1 hour with 3 significant digits: any value is stored within 0.1% of itself, and two
 * histograms with the same layout add bucket by bucket, so merging the deltas of several threads
 * gives exactly the histogram one thread recording everything would have. The recorder also
 * keeps the exact sum, min and max, which a bucketed histogram can only approximate.
 *
 * A snapshot carries the histogram in HdrHistogram's V2 compressed base64 form (the format of
 * HdrHistogram's log files, readable by its other ports and plotters) as a string: it survives
 * structured clone and JSON alike, and is a few hundred bytes.
 */
import {
  Float64Histogram,
  Int32Histogram,
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  initWebAssemblySync,
} from 'hdr-histogram-js'
import type { Histogram, JsHistogram } from 'hdr-histogram-js'
import { InvalidArgumentError, ProtocolError } from '../errors.js'

/** The lowest value a histogram tells apart, in µs: 1 µs. Lower values (0, negative, NaN) are clamped to it. */
export const LOWEST_MICROS = 1
/** The highest value a histogram tracks, in µs: one hour. Higher values are clamped to it. */
export const HIGHEST_MICROS = 3_600_000_000
/** Decimal digits of resolution: a value is stored within 0.1% of itself. */
export const SIGNIFICANT_DIGITS = 3

/**
 * What a recorder hands over at each {@link LatencyRecorder.take}: the values recorded since the
 * previous take (a delta). Plain data: it crosses threads with postMessage and serialises as JSON.
 */
export interface LatencySnapshot {
  /** Values recorded, clamped ones included. */
  count: number
  /** Their exact sum in µs (an integer: after rounding each value to the µs and clamping it). */
  sumUs: number
  /** The smallest value in µs (after clamping); 0 when `count` is 0. */
  minUs: number
  /** The largest value in µs (after clamping); 0 when `count` is 0. */
  maxUs: number
  /** Values that were outside 1 µs – 1 h and were recorded at the nearest end of the range instead. */
  clamped: number
  /** The HDR histogram of the values, V2 compressed base64 (`encodeIntoCompressedBase64`); `''` when `count` is 0. */
  histogram: string
}

/**
 * Whether this thread's copy of hdr-histogram-js has its WebAssembly module, once tried.
 * The module is per thread (per V8 isolate): each worker compiles its own on its first recorder.
 */
let wasmState: 'untried' | 'ready' | 'unavailable' = 'untried'

function wasmReady (): boolean {
  if (wasmState === 'untried') {
    try {
      // Synchronous, once per thread: measured 27–40 ms in a fresh worker on the 2-vCPU EPYC dev VM
      // (pako-inflating and compiling the embedded module), then every recorder of the thread shares it.
      initWebAssemblySync()
      wasmState = 'ready'
    } catch {
      wasmState = 'unavailable'
    }
  }
  return wasmState === 'ready'
}

/**
 * Records latencies in one thread, cheaply enough for the per-event hot path, and hands them
 * over as deltas. Not shared between threads: make one per thread (or one per stage and thread).
 *
 * Cost of {@link record}, measured on the 2-vCPU AMD EPYC dev VM, Node 20.20, 4 M log-uniform
 * values of 20 µs – 200 ms, median of 15 rounds (raw `recordValue` of the library in brackets):
 * - wasm build: ~33 ns per record (28 ns raw)
 * - JS build:   ~175 ns per record (160–172 ns raw: it derives the bucket with Math.log2 and pow)
 *
 * hence the wasm build, with the JS build as the fallback where WebAssembly is unavailable
 * (`node --jitless`). Its costs are the one-off compile per thread (see above) and memory that is
 * not garbage-collected: call {@link destroy} when a recorder is done with before its thread ends.
 */
export class LatencyRecorder {
  readonly #histogram: Histogram
  #sumUs = 0
  #minUs = Infinity
  #maxUs = 0
  #clamped = 0

  constructor () {
    this.#histogram = wasmReady()
      ? build({
        bitBucketSize: 32,
        autoResize: false,
        lowestDiscernibleValue: LOWEST_MICROS,
        highestTrackableValue: HIGHEST_MICROS,
        numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
        useWebAssembly: true,
      })
      // 32-bit counts are plenty: the recorder is emptied by every take().
      : new Int32Histogram(LOWEST_MICROS, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
  }

  /**
   * Records `count` (default 1) values of `ms` milliseconds (sub-ms precision kept to the µs): a
   * weight above 1 is how a sample stands for the events it was drawn from. A value under 1 µs
   * (0, negative, NaN) or over 1 hour is recorded at that end of the range and counted in
   * {@link LatencySnapshot.clamped}. Take `now()` once per batch, not once per event.
   */
  record (ms: number, count = 1): void {
    let us = Math.round(ms * 1000)
    // Written as !(us >= LOWEST) so that NaN is clamped too.
    if (!(us >= LOWEST_MICROS)) {
      us = LOWEST_MICROS
      this.#clamped += count
    } else if (us > HIGHEST_MICROS) {
      us = HIGHEST_MICROS
      this.#clamped += count
    }
    // Out-of-range values must never reach the wasm histogram: it aborts, and an aborted
    // AssemblyScript module is not safe to use again. The clamp above guarantees it.
    if (count === 1) this.#histogram.recordValue(us)
    else this.#histogram.recordValueWithCount(us, count)
    this.#sumUs += us * count
    if (us < this.#minUs) this.#minUs = us
    if (us > this.#maxUs) this.#maxUs = us
  }

  /** Values recorded since the last {@link take}. */
  get count (): number {
    return this.#histogram.totalCount
  }

  /**
   * Hands over what was recorded since the previous take and starts afresh. Cheap when
   * nothing was recorded (no encoding); otherwise one encode of the histogram (tens of µs).
   */
  take (): LatencySnapshot {
    const histogram = this.#histogram
    const count = histogram.totalCount
    if (count === 0) return { count: 0, sumUs: 0, minUs: 0, maxUs: 0, clamped: 0, histogram: '' }
    const snapshot: LatencySnapshot = {
      count,
      sumUs: this.#sumUs,
      minUs: this.#minUs,
      maxUs: this.#maxUs,
      clamped: this.#clamped,
      histogram: encodeIntoCompressedBase64(histogram),
    }
    histogram.reset()
    this.#sumUs = 0
    this.#minUs = Infinity
    this.#maxUs = 0
    this.#clamped = 0
    return snapshot
  }

  /** Frees the histogram's memory (wasm memory is not garbage-collected); the recorder must not be used afterwards. */
  destroy (): void {
    this.#histogram.destroy()
  }
}

/** A latency distribution in milliseconds. All fields are 0 when `count` is 0. */
export interface LatencySummary {
  /** Values recorded. */
  count: number
  /** The smallest, exact (to the µs). */
  min: number
  /** The exact mean. */
  mean: number
  /** Median, within 0.1% (HDR precision), never outside [min, max]. */
  p50: number
  /** 90th percentile, within 0.1%. */
  p90: number
  /** 99th percentile, within 0.1%. */
  p99: number
  /** 99.9th percentile, within 0.1%. */
  p999: number
  /** The largest, exact (to the µs). */
  max: number
  /** Values that were outside 1 µs – 1 h and were counted at the nearest end of that range. */
  clamped: number
}

/** The top of the HDR bucket holding {@link HIGHEST_MICROS}: what a clamped value reads back as. */
const MAX_EQUIVALENT_MICROS = new Int32Histogram(LOWEST_MICROS, HIGHEST_MICROS, SIGNIFICANT_DIGITS).highestEquivalentValue(HIGHEST_MICROS)

/**
 * The main thread's side: the sum of the snapshots of every thread that records one measure
 * (push → stage, push → socket write). Counts are 64-bit floats, exact up to 2^53 per bucket.
 */
export class LatencyHistogram {
  readonly #histogram = new Float64Histogram(LOWEST_MICROS, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
  #sumUs = 0
  #minUs = Infinity
  #maxUs = 0
  #clamped = 0

  /**
   * Adds a snapshot (a delta) from a {@link LatencyRecorder} of any thread.
   * @throws ERR_PROTOCOL when its histogram does not decode to `count` values within the range;
   *   the histogram is then unchanged.
   */
  merge (snapshot: LatencySnapshot): void {
    if (snapshot.count === 0) return
    let decoded: JsHistogram
    try {
      // 32-bit counts: a delta never holds 2^32 values in one bucket. The JS build (the default
      // of decode), so it adds to the Float64Histogram directly.
      decoded = decodeFromCompressedBase64(snapshot.histogram, 32) as JsHistogram
    } catch (err) {
      throw new ProtocolError(`latency snapshot: the histogram is not a compressed V2 HDR histogram (${err instanceof Error ? err.message : String(err)})`)
    }
    if (decoded.totalCount !== snapshot.count || decoded.maxValue > MAX_EQUIVALENT_MICROS) {
      throw new ProtocolError(`latency snapshot: the histogram holds ${decoded.totalCount} values up to ${decoded.maxValue} µs; expected ${snapshot.count} within 1 µs – 1 h`)
    }
    this.#histogram.add(decoded)
    this.#sumUs += snapshot.sumUs
    this.#clamped += snapshot.clamped
    if (snapshot.minUs < this.#minUs) this.#minUs = snapshot.minUs
    if (snapshot.maxUs > this.#maxUs) this.#maxUs = snapshot.maxUs
  }

  /** Values merged so far. */
  get count (): number {
    return this.#histogram.totalCount
  }

  /** Exact sum of the values merged so far, in ms. */
  get sum (): number {
    return this.#sumUs / 1000
  }

  /** Count, exact min/mean/max and percentiles, in ms. */
  summary (): LatencySummary {
    const h = this.#histogram
    const count = h.totalCount
    if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, clamped: 0 }
    const min = this.#minUs
    const max = this.#maxUs
    // HDR answers with the highest value of a percentile's bucket, which can lie past the exact
    // max (a p99 of 5.003 ms when the max is 5 ms): keep percentiles inside [min, max].
    const at = (percentile: number): number => Math.min(max, Math.max(min, h.getValueAtPercentile(percentile))) / 1000
    return {
      count,
      min: min / 1000,
      mean: this.#sumUs / count / 1000,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: max / 1000,
      clamped: this.#clamped,
    }
  }

  /**
   * Cumulative counts of values at or under each bound, as a Prometheus histogram's `le`
   * buckets: `result[i]` counts the values ≤ `boundsSeconds[i]`; the `+Inf` bucket is
   * {@link count}. A value is compared by the lowest value of its HDR bucket, so a count near a
   * bound can be off by values within 0.1% of it (values recorded exactly at a bound are in).
   * @throws ERR_INVALID_ARGUMENT when the bounds are not finite, positive and strictly increasing.
   */
  buckets (boundsSeconds: readonly number[]): number[] {
    checkBounds(boundsSeconds, 'boundsSeconds')
    const n = boundsSeconds.length
    const out = new Array<number>(n).fill(0)
    const h = this.#histogram
    if (h.totalCount === 0) return out
    // Bounds in whole µs: recorded values are integers, so a value is ≤ 2.5 ms iff ≤ 2500 µs.
    // The epsilon absorbs binary fractions such as 0.0029 * 1e6 = 2899.9999999999995.
    const limits = boundsSeconds.map((b) => Math.floor(b * 1e6 + 1e-6))
    const last = Math.min(h.countsArrayLength - 1, h.countsArrayIndex(h.maxValue))
    let cumulative = 0
    let b = 0
    for (let i = 0; i <= last; i++) {
      const count = h.getCountAtIndex(i)
      if (count === 0) continue
      // Indexes run in increasing value order, and valueFromIndex is the lowest value of index i.
      const value = h.valueFromIndex(i)
      while (b < n && value > (limits[b] as number)) out[b++] = cumulative
      cumulative += count
    }
    while (b < n) out[b++] = cumulative
    return out
  }
}

/**
 * Checks a list of histogram bounds in seconds: non-empty, finite, positive, strictly increasing.
 * @throws ERR_INVALID_ARGUMENT naming the offending element.
 */
function checkBounds (bounds: readonly number[], name: string): void {
  if (!Array.isArray(bounds) || bounds.length === 0) {
    throw new InvalidArgumentError(`${name} must be a non-empty array of seconds, got ${JSON.stringify(bounds)}`)
  }
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i]
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= 0) {
      throw new InvalidArgumentError(`${name}[${i}] must be a positive finite number of seconds, got ${JSON.stringify(bound)}`)
    }
    if (i > 0 && bound <= (bounds[i - 1] as number)) {
      throw new InvalidArgumentError(`${name}[${i}] must be greater than ${name}[${i - 1}] (${bounds[i - 1]}), got ${bound}`)
    }
  }
}
