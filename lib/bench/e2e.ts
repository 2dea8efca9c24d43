/**
 * Scenario `e2e`: the pipeline of the Real-Time Phoenix book, end to end.
 *
 * ```
 *   main thread: push at `rate` events/s, event k on topic feed:u<k mod topics>
 *     │  envelope {id, ts = push time, topic}
 *     ▼
 *   ┌ thread "pipeline" ───────────────────────────────────────────┐
 *   │ source: builtin:queue (buffer 10,000)                         │
 *   │   ▼ demand (maxDemand 10 / min 5)                              │
 *   │ dispatch: consumer_supervisor, one task per event, in-thread   │──► sockets: the event shaped { id, ts, key, data }
 *   │   no sockets: Registry-like lookup ──► in-thread subscribers   │      ▼
 *   │   (each times push → receipt)                                  │  ┌ thread "broadcaster" ┐ ══ WebSocket ══► clients
 *   └────────────────────────────────────────────────────────────────┘  └──────────────────────┘   (a process of their own:
 *                                                                                                  raw ws Phoenix V2 clients)
 * ```
 *
 * Client c joins topic feed:u<c mod topics> (with 1,000 clients on 1,000 topics, each event has one
 * subscriber, as in the book). Contenders: `stagewire-rate` pushes at a fixed rate (a timer every
 * millisecond pushes what is due), `stagewire-max` as fast as the pipeline takes (closed loop:
 * it waits for `drain` when push() says false). Reported: deliveries/s over the window, push →
 * receipt latency, and the accounting once the feed has stopped and everything has arrived:
 * `expected` deliveries (from what was pushed and who subscribed) = `delivered` + `missing`.
 * @internal
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { packageRoot } from '../cli/package-root.js'
import { signToken } from '../channels/token.js'
import { LatencyHistogram } from '../metrics/latency.js'
import type { LatencySummary } from '../metrics/latency.js'
import { start } from '../runtime.js'
import type { Runtime } from '../runtime.js'
import { HeapWatch, benchStage, sleep } from './common.js'
import type { RunResult } from './harness.js'
import { E2eClients } from './e2e-clients.js'
import type { DispatchTake } from './stages/e2e-dispatch.js'

/** Options of the scenario's contenders. */
export interface E2eOptions {
  /** Events/s pushed (stagewire-rate); a probe of the search sets its own. */
  rate: number
  topics: number
  clients: number
  maxDemand: number
  sockets: boolean
  seconds: number
  warmup: number
}

export const E2E_CONTENDERS = ['stagewire-rate', 'stagewire-max'] as const

/** GenStage's figures for the same shape (../shared/ANCHORS.md), the absolute targets. */
export const GENSTAGE = { sustained: 175_000, p99At100k: 1.53 }

/** What both kinds of subscribers report. */
type E2eTakeLike = DispatchTake & { errors?: number }

const DRAIN_MS = 15_000
const MAX_CHUNK = 10_000
const CHANNEL = join(packageRoot(), 'examples/demo/channels/feed.js')

/** The topic of subscriber c (and of event k). */
const topicOf = (i: number, topics: number): string => `feed:u${i % topics}`

/** How many subscribers each topic has. */
export function subscribersByTopic (clients: number, topics: number): Map<string, number> {
  const out = new Map<string, number>()
  for (let c = 0; c < clients; c++) {
    const t = topicOf(c, topics)
    out.set(t, (out.get(t) ?? 0) + 1)
  }
  return out
}

/** Pushes events round-robin over the topics, paced or closed-loop, and counts what each topic got. */
class Feeder {
  pushed = 0
  /** Deliveries the pushed events should make. */
  expected = 0
  /** Times push() said false (the pipeline did not keep up). */
  refused = 0
  #stopped = false
  readonly #topics: string[]
  readonly #fanout: number[]
  readonly #rt: Runtime

  constructor (rt: Runtime, o: E2eOptions) {
    this.#rt = rt
    const subs = subscribersByTopic(o.clients, o.topics)
    this.#topics = Array.from({ length: o.topics }, (_, t) => topicOf(t, o.topics))
    this.#fanout = this.#topics.map((t) => subs.get(t) ?? 0)
  }

  stop (): void { this.#stopped = true }

  #pushOne (push: (payload: unknown, meta: { topic: string }) => boolean): boolean {
    const t = this.pushed % this.#topics.length
    this.pushed++
    this.expected += this.#fanout[t] as number
    return push({ n: this.pushed }, { topic: this.#topics[t] as string })
  }

  /** Pushes `rate` events/s (every ms, what is due) until stopped. */
  async paced (rate: number): Promise<void> {
    const { push } = this.#rt.pusher('source')
    const t0 = performance.now()
    const base = this.pushed
    while (!this.#stopped) {
      const due = Math.min(MAX_CHUNK, Math.floor(((performance.now() - t0) / 1000) * rate) - (this.pushed - base))
      let ok = true
      for (let i = 0; i < due; i++) ok = this.#pushOne(push)
      if (!ok) { this.refused++; await this.#drained() } else await sleep(1)
    }
  }

  /** Pushes as fast as the pipeline takes until stopped. */
  async closedLoop (): Promise<void> {
    const { push } = this.#rt.pusher('source')
    while (!this.#stopped) {
      let ok = true
      for (let i = 0; i < 1000 && ok; i++) ok = this.#pushOne(push)
      if (!ok) await this.#drained()
      else await new Promise((resolve) => setImmediate(resolve))
    }
  }

  #drained (): Promise<void> {
    return new Promise((resolve) => this.#rt.once('drain', () => resolve()))
  }
}

function latencyFigures (l: LatencySummary): Record<string, number> {
  if (l.count === 0) return {}
  return { latency_p50_ms: l.p50, latency_p90_ms: l.p90, latency_p99_ms: l.p99, latency_p999_ms: l.p999, latency_max_ms: l.max }
}

async function e2e (closedLoop: boolean, o: E2eOptions): Promise<RunResult> {
  const subs = subscribersByTopic(o.clients, o.topics)
  const secret = randomBytes(32).toString('base64url')
  const pipeline = { thread: 'pipeline' }
  const rt = await start({
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue', bufferSize: 10_000, ...pipeline },
      {
        id: 'dispatch',
        stage: 'consumer_supervisor',
        module: benchStage('e2e-dispatch'),
        args: { sockets: o.sockets, ...(o.sockets ? {} : { subscribers: Object.fromEntries(subs) }) },
        subscribeTo: [{ id: 'source', maxDemand: o.maxDemand }],
        tasks: { runner: 'inline' },
        ...pipeline,
      },
      ...(o.sockets
        ? [{
            id: 'broadcaster',
            module: 'builtin:broadcaster',
            subscribeTo: [{ id: 'dispatch', maxDemand: 1000 }],
            endpoint: { host: '127.0.0.1', port: 0, secret, channels: [['feed:*', CHANNEL]] },
          }]
        : []),
    ],
  })
  let clients: E2eClients | undefined
  try {
    if (o.sockets) {
      const address = await rt.endpointAddress()
      clients = await E2eClients.start(address.url, Array.from({ length: o.clients }, (_, c) => ({
        token: signToken({ benchClient: c }, secret, { maxAgeSeconds: 86_400 }),
        topic: topicOf(c, o.topics),
      })))
    }
    const heap = new HeapWatch(rt)
    // Each take empties the subscribers' (or clients') latency: what is kept is the window's.
    const latency = new LatencyHistogram()
    let errors = 0
    const take = async (keep: boolean): Promise<number> => {
      const t: E2eTakeLike = clients !== undefined ? await clients.take() : (await rt.call('dispatch', 'take')) as DispatchTake
      if (keep) latency.merge(t.latency)
      if (t.errors !== undefined) errors = t.errors
      return t.delivered
    }
    const feeder = new Feeder(rt, o)
    const feeding = closedLoop ? feeder.closedLoop() : feeder.paced(o.rate)
    await sleep(o.warmup * 1000)
    const d0 = await take(false)
    const p0 = feeder.pushed
    const t0 = performance.now()
    await sleep(o.seconds * 1000)
    const windowS = (performance.now() - t0) / 1000
    const d1 = await take(true)
    const pushedInWindow = feeder.pushed - p0
    feeder.stop()
    await feeding
    // The feed has stopped: wait until no stage holds an event, then until every delivery the
    // events that reached the last stage should make has arrived (or the drain time is up).
    const last = o.sockets ? 'broadcaster' : 'dispatch'
    const deadline = performance.now() + DRAIN_MS
    const idle = (): boolean => rt.stages().every((st) => st.buffered === 0 && st.queued === 0 && st.running === 0)
    while (performance.now() < deadline && !idle()) await sleep(20)
    const m = rt.metrics()
    const dropped = Object.values(m.dropped).reduce((a, b) => a + b, 0)
    const lost = Object.values(m.lost).reduce((a, b) => a + b, 0)
    let total = d1
    while (performance.now() < deadline && total < feeder.expected) {
      await sleep(20)
      total = await take(false)
      if (dropped > 0 && idle()) { await sleep(200); total = await take(false); break }
    }
    const reachedLast = rt.stages().find((st) => st.id === last)?.handled ?? 0
    return {
      value: (d1 - d0) / windowS,
      extra: {
        ...(closedLoop ? {} : { offered_per_s: o.rate }),
        pushed_per_s: pushedInWindow / windowS,
        pushed: feeder.pushed,
        reached_last: reachedLast,
        dropped,
        // By reason (buffer_full at the source when a fixed rate outruns the pipeline, ...).
        ...Object.fromEntries(Object.entries(m.dropped).map(([reason, n]) => [`dropped_${reason}`, n])),
        lost,
        expected: feeder.expected,
        delivered: total,
        missing: dropped + lost > 0 ? Number.NaN : feeder.expected - total,
        refused: feeder.refused,
        client_errors: errors,
        ...latencyFigures(latency.summary()),
        ...heap.stop(),
      },
    }
  } finally {
    await clients?.stop()
    await rt.destroy()
  }
}

/** Runs one contender once (in the child process). */
export const contenders: Record<string, (o: E2eOptions) => Promise<RunResult>> = {
  'stagewire-rate': (o) => e2e(false, o),
  'stagewire-max': (o) => e2e(true, o),
}
