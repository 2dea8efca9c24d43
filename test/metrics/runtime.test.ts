// Metrics measured by a real tree (source → tag → broadcaster, each in its own thread, official
// clients on the sockets): runtime.metrics(), the `metrics` telemetry event, and GET /metrics on
// the broadcaster's endpoint, parsed as Prometheus text, all agree with what was pushed and delivered.
import t from 'tap'
import { start } from '../../lib/runtime.js'
import type { Runtime } from '../../lib/runtime.js'
import type { RuntimeMetrics } from '../../lib/metrics/aggregate.js'
import { fixture, waitFor } from '../helpers.js'
import { SECRET, join, nextMessage, phoenixSocket, tokenFor } from '../channels/support.js'
import type { Teardown } from '../channels/support.js'
import { parseExposition, valueOf } from './exposition.js'

async function startTree (t: Teardown): Promise<{ runtime: Runtime, port: number }> {
  const runtime = await start({
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue' },
      { id: 'tag', stage: 'producer_consumer', module: fixture('stages/tag.ts'), subscribeTo: [{ id: 'source', maxDemand: 100 }] },
      {
        id: 'broadcaster',
        module: 'builtin:broadcaster',
        subscribeTo: [{ id: 'tag', maxDemand: 100 }],
        endpoint: { port: 0, secret: SECRET, channels: [['user:*', fixture('channels/user.ts')]] },
      },
    ],
  })
  t.teardown(() => runtime.close({ timeout: 10_000 }))
  const { port } = await runtime.endpointAddress()
  return { runtime, port }
}

/** Polls until `accept` holds (threads report about every second). */
async function eventually<T> (read: () => T | Promise<T>, accept: (value: T) => boolean, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (accept(value) || Date.now() > until) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function scrape (port: number): Promise<{ status: number, type: string | null, text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

t.test('pushed, dispatched, delivered, dropped and latencies, in runtime.metrics() and at /metrics', async (t) => {
  const { runtime, port } = await startTree(t)
  // Two clients on the same topic: every event is two deliveries.
  const alice = phoenixSocket(t, port, tokenFor(1))
  const bob = phoenixSocket(t, port, tokenFor(1))
  t.equal((await join(alice, 'user:1')).status, 'ok')
  t.equal((await join(bob, 'user:1')).status, 'ok')

  const N = 300
  const done = Promise.all([alice, bob].map((s) => nextMessage(s, (m) => m.payload.seq === N - 1, 10_000)))
  for (let i = 0; i < N; i++) runtime.push('source', { seq: i, user: 1 }, { topic: 'user:1', event: 'msg' })
  for (let i = 0; i < 5; i++) runtime.push('source', { seq: -1 })   // no topic: undeliverable
  await done

  const event = waitFor<RuntimeMetrics>(runtime, 'metrics', (m) => m.delivered === 2 * N, 8000)
  // Each thread reports on its own clock: wait for all three.
  const m = await eventually(() => runtime.metrics(), (m) => m.delivered === 2 * N && m.dropped.undeliverable === 5 &&
    ['source', 'tag', 'broadcaster'].every((id) => m.stages[id]?.latency.count === N + 5))
  t.match(m, {
    pushed: N + 5,
    dispatched: N,
    delivered: 2 * N,
    dropped: { undeliverable: 5 },
    lost: {},
    restarts: {},
    latency: { count: 2 * N },
    stages: {
      source: { up: true, latency: { count: N + 5 } },
      tag: { up: true, latency: { count: N + 5 } },
      broadcaster: { up: true, dropped: 5, latency: { count: N + 5 } },
    },
  })
  const l = m.latency
  t.ok(l.min > 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, `ordered: ${JSON.stringify(l)}`)
  t.ok(l.max < 10_000, 'push → socket within 10 s')
  t.ok((m.stages.source?.latency.p50 ?? Infinity) <= (m.stages.broadcaster?.latency.p50 ?? 0), 'an event reaches the source before the broadcaster')
  t.match(await event, { pushed: N + 5, delivered: 2 * N }, 'the metrics telemetry event says the same')

  // The endpoint serves what the runtime pushed to it, within a second or two.
  const scraped = await eventually(() => scrape(port), (s) => s.status === 200 && s.text.includes(`stagewire_events_delivered_total ${2 * N}`))
  t.equal(scraped.status, 200)
  t.equal(scraped.type, runtime.metricsRegistry.contentType)
  const families = parseExposition(scraped.text)
  t.equal(valueOf(families, 'stagewire_events_pushed_total'), N + 5)
  t.equal(valueOf(families, 'stagewire_events_dispatched_total'), N)
  t.equal(valueOf(families, 'stagewire_events_delivered_total'), 2 * N)
  t.equal(valueOf(families, 'stagewire_events_dropped_total', { reason: 'undeliverable' }), 5)
  t.equal(valueOf(families, 'stagewire_delivery_latency_seconds', {}, 'stagewire_delivery_latency_seconds_count'), 2 * N)
  t.equal(valueOf(families, 'stagewire_delivery_latency_seconds', { le: '+Inf' }, 'stagewire_delivery_latency_seconds_bucket'), 2 * N)
  for (const stage of ['source', 'tag', 'broadcaster']) {
    t.equal(valueOf(families, 'stagewire_stage_demand_pending', { stage }) !== undefined, true, `demand gauge of ${stage}`)
    t.equal(valueOf(families, 'stagewire_stage_buffer_events', { stage }), 0, `${stage}'s buffer is empty`)
  }
  // The same text the host app can read from the registry directly.
  const direct = parseExposition(await runtime.metricsRegistry.metrics())
  t.equal(valueOf(direct, 'stagewire_events_delivered_total'), 2 * N)
})

t.test('restarts are counted by child, and a restarted stage keeps its latency history', async (t) => {
  const { runtime } = await startTree(t)
  runtime.push('source', { seq: 0, user: 1 }, { topic: 'user:1', event: 'msg' })
  await eventually(() => runtime.metrics(), (m) => (m.stages.tag?.latency.count ?? 0) === 1)
  const restarted = waitFor(runtime, 'child:restarted', (e: { id: string }) => e.id === 'tag')
  await runtime.call('tag', 'crash')
  await restarted
  const m = runtime.metrics()
  t.same(m.restarts, { tag: 1 })
  t.equal(m.stages.tag?.latency.count, 1)
  const families = parseExposition(await runtime.metricsRegistry.metrics())
  t.equal(valueOf(families, 'stagewire_restarts_total', { child: 'tag' }), 1)
})

t.test('stages in the main thread (thread: "main") are measured too, and their broadcaster serves /metrics', async (t) => {
  const runtime = await start({
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', thread: 'main' },
      { id: 'tag', stage: 'producer_consumer', module: fixture('stages/tag.ts'), subscribeTo: ['source'], thread: 'main' },
      {
        id: 'broadcaster',
        module: 'builtin:broadcaster',
        subscribeTo: ['tag'],
        thread: 'main',
        endpoint: { port: 0, secret: SECRET, channels: [['user:*', fixture('channels/user.ts')]] },
      },
    ],
  })
  t.teardown(() => runtime.close({ timeout: 10_000 }))
  const { port } = await runtime.endpointAddress()
  const alice = phoenixSocket(t, port, tokenFor(1))
  t.equal((await join(alice, 'user:1')).status, 'ok')
  const N = 50
  const done = nextMessage(alice, (m) => m.payload.seq === N - 1, 10_000)
  for (let i = 0; i < N; i++) runtime.push('source', { seq: i, user: 1 }, { topic: 'user:1', event: 'msg' })
  await done
  const m = await eventually(() => runtime.metrics(), (m) => m.delivered === N)
  t.match(m, { pushed: N, dispatched: N, delivered: N, latency: { count: N }, stages: { tag: { latency: { count: N } } } })
  const scraped = await eventually(() => scrape(port), (s) => s.text.includes(`stagewire_events_delivered_total ${N}`))
  t.equal(valueOf(parseExposition(scraped.text), 'stagewire_events_delivered_total'), N)
  // Only GET and HEAD read them: a POST is told so rather than answered as if it were a GET.
  for (const path of ['/metrics', '/health']) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: '{}' })
    t.equal(res.status, 405, `POST ${path}`)
    t.equal(res.headers.get('allow'), 'GET, HEAD')
    t.match(await res.text(), `${path} answers GET and HEAD, not POST`)
  }
  t.equal((await fetch(`http://127.0.0.1:${port}/health`, { method: 'HEAD' })).status, 200, 'HEAD /health')
})
