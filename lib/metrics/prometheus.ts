/**
 * The runtime's figures as Prometheus metrics, in a private prom-client Registry (never the
 * global one: the host app's own registry stays untouched; it can merge ours with
 * `Registry.merge([register, runtime.metricsRegistry])`).
 *
 * Every metric reads the live {@link RuntimeMetrics} when the registry is collected, so nothing is
 * counted twice and nothing is done between scrapes. Latencies are HDR histograms on our side; they
 * are exposed as Prometheus histograms with fixed `le` buckets (seconds) by a small metric object
 * that prom-client renders like its own (prom-client's Histogram can only `observe` one value at
 * a time, and the values are already counted).
 * @internal
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { LabelValues, Metric, MetricValueWithName } from 'prom-client'
import type { LatencyHistogram } from './latency.js'
import type { RuntimeMetrics } from './aggregate.js'

/** `le` bounds of the latency histograms, in seconds: 0.25 ms to 10 s. */
export const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

/** What the registry reads from: the live figures and the latency histograms behind them. */
export interface MetricsSource {
  metrics (): RuntimeMetrics
  delivery: LatencyHistogram
  stageLatency: ReadonlyMap<string, LatencyHistogram>
}

/** Builds the registry of a runtime's metrics. */
export function createMetricsRegistry (source: MetricsSource): Registry {
  const registry = new Registry()
  // Read once per collection, by whichever metric comes first (collect() calls run in the same tick).
  let current: RuntimeMetrics | undefined
  const read = (): RuntimeMetrics => {
    if (current === undefined) {
      current = source.metrics()
      queueMicrotask(() => { current = undefined })
    }
    return current
  }

  counter(registry, 'stagewire_events_pushed_total', 'Events accepted by push() and pushMany().', [], (m) => [[{}, m.pushed]], read)
  counter(registry, 'stagewire_events_dispatched_total', 'Events broadcasters handed to their endpoint\'s fan-out.', [], (m) => [[{}, m.dispatched]], read)
  counter(registry, 'stagewire_events_delivered_total', 'Deliveries: frames of pushed events written to a subscriber\'s socket (one per subscriber).', [], (m) => [[{}, m.delivered]], read)
  counter(registry, 'stagewire_events_dropped_total', 'Events dropped, by reason.', ['reason'], (m) => entries(m.dropped, 'reason'), read)
  counter(registry, 'stagewire_deliveries_dropped_total', 'Deliveries dropped by an endpoint\'s outbound policy for a slow client, by reason.', ['reason'], (m) => entries(m.deliveriesDropped, 'reason'), read)
  counter(registry, 'stagewire_events_lost_total', 'Events lost inside stages whose thread ended, by stage.', ['stage'], (m) => entries(m.lost, 'stage'), read)
  counter(registry, 'stagewire_restarts_total', 'Restarts, by child id.', ['child'], (m) => entries(m.restarts, 'child'), read)
  gauge(registry, 'stagewire_stage_buffer_events', 'Events in a stage\'s buffer now.', (m) => Object.entries(m.stages).map(([stage, s]) => [{ stage }, s.buffered]), read)
  gauge(registry, 'stagewire_stage_queued_events', 'Events received by a stage and waiting for its callback now.', (m) => Object.entries(m.stages).map(([stage, s]) => [{ stage }, s.queued]), read)
  gauge(registry, 'stagewire_stage_demand_pending', 'Downstream demand a stage has not met yet, in events.', (m) => Object.entries(m.stages).map(([stage, s]) => [{ stage }, s.demand]), read)
  gauge(registry, 'stagewire_stage_up', '1 while a thread runs the stage, else 0.', (m) => Object.entries(m.stages).map(([stage, s]) => [{ stage }, s.up ? 1 : 0]), read)
  registry.registerMetric(new HdrMetric('stagewire_delivery_latency_seconds', 'Latency from push() to the write of the event to a subscriber\'s socket.', () => [[{}, source.delivery]]) as unknown as Metric)
  registry.registerMetric(new HdrMetric('stagewire_stage_latency_seconds', 'Latency from push() to the event reaching a stage (its callback; a producer: its thread).', () => [...source.stageLatency].map(([stage, h]) => [{ stage }, h])) as unknown as Metric)
  return registry
}

type Labels = LabelValues<string>
type Samples = Array<[Labels, number]>

function entries (record: Record<string, number>, label: string): Samples {
  return Object.entries(record).map(([key, value]) => [{ [label]: key }, value])
}

function counter (registry: Registry, name: string, help: string, labelNames: string[], samples: (m: RuntimeMetrics) => Samples, read: () => RuntimeMetrics): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of samples(read())) this.inc(labels, value)
    },
  })
}

function gauge (registry: Registry, name: string, help: string, samples: (m: RuntimeMetrics) => Samples, read: () => RuntimeMetrics): void {
  new Gauge({
    name,
    help,
    labelNames: ['stage'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of samples(read())) this.set(labels, value)
    },
  })
}

/**
 * A Prometheus histogram read from HDR histograms: `_bucket{le}` (cumulative), `_sum`, `_count`.
 * It has what prom-client's Registry uses of a metric (`name`, `help`, `type`, `aggregator`,
 * `get()`, `reset()`), so it renders, merges and serialises to JSON like prom-client's own.
 */
class HdrMetric {
  readonly type = 'histogram' as const
  readonly aggregator = 'sum' as const
  readonly name: string
  readonly help: string
  readonly #series: () => Array<[Labels, LatencyHistogram]>

  constructor (name: string, help: string, series: () => Array<[Labels, LatencyHistogram]>) {
    this.name = name
    this.help = help
    this.#series = series
  }

  get (): { name: string, help: string, type: 'histogram', values: Array<MetricValueWithName<string>>, aggregator: 'sum' } {
    const values: Array<MetricValueWithName<string>> = []
    for (const [labels, histogram] of this.#series()) {
      const counts = histogram.buckets(LATENCY_BUCKETS)
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: LATENCY_BUCKETS[i] as number }, value: counts[i] as number })
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count })
      values.push({ metricName: `${this.name}_sum`, labels, value: histogram.sum / 1000 })
      values.push({ metricName: `${this.name}_count`, labels, value: histogram.count })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** Nothing to reset here: the histograms belong to the runtime. */
  reset (): void {}
}
