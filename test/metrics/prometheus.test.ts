// Thread reports and telemetry added up on the main thread (MetricsAggregate), and the Prometheus
// text rendered from them: it parses line by line as exposition format 0.0.4 and says what was given.
import t from 'tap'
import type { Test } from 'tap'
import { Registry, Counter, register } from 'prom-client'
import { MetricsAggregate } from '../../lib/metrics/aggregate.js'
import { LATENCY_BUCKETS, createMetricsRegistry } from '../../lib/metrics/prometheus.js'
import { ThreadMetrics } from '../../lib/metrics/thread-metrics.js'
import type { StageInfo } from '../../lib/stage/wiring.js'
import { parseExposition, valueOf } from './exposition.js'

function stageInfo (id: string, kind: StageInfo['kind'], figures: Partial<StageInfo> = {}): StageInfo {
  return {
    id, kind, up: true, received: 0, handled: 0, emitted: 0, dropped: 0, buffered: 0, queued: 0, demand: 0, callbacks: 0,
    running: 0, failed: 0, lost: 0, droppedTotal: 0, subscribedTo: [], ...figures,
  }
}

/** Two threads' worth of reports: a source thread and a broadcaster thread. */
function reports (t: Test): ReturnType<ThreadMetrics['take']>[] {
  const source = new ThreadMetrics()
  for (let i = 0; i < 100; i++) source.stage('source').record(0.2, 1)          // 100 events at 0.2 ms
  const broadcaster = new ThreadMetrics()
  broadcaster.stage('broadcaster').record(1.5, 90)                            // 90 at 1.5 ms (a weighted sample)
  broadcaster.dispatched += 90
  for (let i = 0; i < 180; i++) broadcaster.delivery.record(i < 170 ? 3 : 40) // 180 deliveries: 170 at 3 ms, 10 at 40 ms
  broadcaster.delivered += 180
  broadcaster.deliveryDrops.dropped_oldest = 4
  const collected: string[] = []
  broadcaster.collect(() => collected.push('called'))
  const out = [source.take(), broadcaster.take()]
  t.same(collected, ['called'], 'collectors run at each take')
  t.equal(broadcaster.take(), undefined, 'nothing since the last take: no report')
  return out
}

t.test('runtime metrics: reports and telemetry added up, with live stage figures', async (t) => {
  const aggregate = new MetricsAggregate()
  for (const report of reports(t)) if (report !== undefined) aggregate.add(report)
  aggregate.addDropped('source', 'buffer_full', 7)
  aggregate.addDropped('broadcaster', 'undeliverable', 3)
  aggregate.addRestart('broadcaster')
  aggregate.addRestart('broadcaster')
  const stages = [
    stageInfo('source', 'producer', { buffered: 12, demand: 0, received: 112, handled: 112, emitted: 100 }),
    stageInfo('broadcaster', 'consumer', { demand: 0, queued: 5, lost: 2, received: 97, handled: 90 }),
  ]
  const m = aggregate.snapshot(stages, 112)
  t.match(m, {
    pushed: 112,
    dispatched: 90,
    delivered: 180,
    dropped: { buffer_full: 7, undeliverable: 3 },
    deliveriesDropped: { dropped_oldest: 4 },
    lost: { broadcaster: 2 },
    restarts: { broadcaster: 2 },
    latency: { count: 180, min: 3, max: 40 },
    stages: {
      source: { buffered: 12, dropped: 7, lost: 0, latency: { count: 100, min: 0.2, max: 0.2 } },
      broadcaster: { queued: 5, dropped: 3, lost: 2, latency: { count: 90, p50: 1.5 } },
    },
  })
  t.ok(Math.abs(m.latency.p50 - 3) <= 0.003 && Math.abs(m.latency.p90 - 3) <= 0.003, 'p50 and p90: 3 ms within HDR\'s 0.1%')
  t.equal(m.latency.p99, 40)
  t.same(JSON.parse(JSON.stringify(m)), m, 'plain data')
})

t.test('/metrics text: every line parses, HELP and TYPE for each family, values as given', async (t) => {
  const aggregate = new MetricsAggregate()
  for (const report of reports(t)) if (report !== undefined) aggregate.add(report)
  aggregate.addDropped('source', 'buffer_full', 7)
  aggregate.addRestart('broadcaster')
  const stages = [stageInfo('source', 'producer', { buffered: 12 }), stageInfo('broadcaster', 'consumer', { demand: 40, lost: 2 })]
  const registry = createMetricsRegistry({ metrics: () => aggregate.snapshot(stages, 112), delivery: aggregate.delivery, stageLatency: aggregate.stageLatency })
  t.not(registry, register, 'a private registry')
  const text = await registry.metrics()
  const families = parseExposition(text)

  const types = Object.fromEntries([...families.values()].map((f) => [f.name, f.type]))
  t.match(types, {
    stagewire_events_pushed_total: 'counter',
    stagewire_events_dispatched_total: 'counter',
    stagewire_events_delivered_total: 'counter',
    stagewire_events_dropped_total: 'counter',
    stagewire_deliveries_dropped_total: 'counter',
    stagewire_events_lost_total: 'counter',
    stagewire_restarts_total: 'counter',
    stagewire_stage_buffer_events: 'gauge',
    stagewire_stage_demand_pending: 'gauge',
    stagewire_delivery_latency_seconds: 'histogram',
    stagewire_stage_latency_seconds: 'histogram',
  })
  t.equal(valueOf(families, 'stagewire_events_pushed_total'), 112)
  t.equal(valueOf(families, 'stagewire_events_dispatched_total'), 90)
  t.equal(valueOf(families, 'stagewire_events_delivered_total'), 180)
  t.equal(valueOf(families, 'stagewire_events_dropped_total', { reason: 'buffer_full' }), 7)
  t.equal(valueOf(families, 'stagewire_deliveries_dropped_total', { reason: 'dropped_oldest' }), 4)
  t.equal(valueOf(families, 'stagewire_events_lost_total', { stage: 'broadcaster' }), 2)
  t.equal(valueOf(families, 'stagewire_restarts_total', { child: 'broadcaster' }), 1)
  t.equal(valueOf(families, 'stagewire_stage_buffer_events', { stage: 'source' }), 12)
  t.equal(valueOf(families, 'stagewire_stage_demand_pending', { stage: 'broadcaster' }), 40)

  const latency = 'stagewire_delivery_latency_seconds'
  const bucket = (le: string): number | undefined => valueOf(families, latency, { le }, `${latency}_bucket`)
  t.equal(families.get(latency)?.samples.filter((s) => s.name === `${latency}_bucket`).length, LATENCY_BUCKETS.length + 1)
  t.equal(bucket('0.0025'), 0, 'nothing at or under 2.5 ms')
  t.equal(bucket('0.005'), 170, '170 deliveries at 3 ms')
  t.equal(bucket('0.025'), 170)
  t.equal(bucket('0.05'), 180, 'and 10 at 40 ms')
  t.equal(bucket('+Inf'), 180)
  t.equal(valueOf(families, latency, {}, `${latency}_count`), 180)
  t.ok(Math.abs((valueOf(families, latency, {}, `${latency}_sum`) as number) - (170 * 0.003 + 10 * 0.04)) < 1e-9, '_sum in seconds')
  const stageLatency = 'stagewire_stage_latency_seconds'
  t.equal(valueOf(families, stageLatency, { stage: 'broadcaster' }, `${stageLatency}_count`), 90)
  t.equal(valueOf(families, stageLatency, { stage: 'source', le: '0.00025' }, `${stageLatency}_bucket`), 100)
})

t.test('the host app can merge it into its own registry', async (t) => {
  const aggregate = new MetricsAggregate()
  const registry = createMetricsRegistry({ metrics: () => aggregate.snapshot([], 3), delivery: aggregate.delivery, stageLatency: aggregate.stageLatency })
  const mine = new Registry()
  new Counter({ name: 'app_requests_total', help: 'The app\'s own.', registers: [mine] }).inc(2)
  const families = parseExposition(await Registry.merge([mine, registry]).metrics())
  t.equal(valueOf(families, 'app_requests_total'), 2)
  t.equal(valueOf(families, 'stagewire_events_pushed_total'), 3)
  t.equal(valueOf(families, 'stagewire_delivery_latency_seconds', { le: '+Inf' }, 'stagewire_delivery_latency_seconds_bucket'), 0, 'an empty histogram still has its +Inf bucket')
  t.notOk(register.getSingleMetric('stagewire_events_pushed_total'), 'the global registry is untouched')
})

t.test('the parser refuses what Prometheus would', async (t) => {
  t.throws(() => parseExposition('x_total 1\n'), /no family/)
  t.throws(() => parseExposition('# HELP x_total a\n# TYPE x_total counter\nx_total{a="1} 1\n'), /bad label list/)
  t.throws(() => parseExposition('# HELP x_total a\n# TYPE x_total counter\nx_total one\n'), /bad value/)
  t.throws(() => parseExposition('# HELP h a\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /cumulative/)
})
