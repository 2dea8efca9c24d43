/**
 * `builtin:broadcaster` — the last stage of a pipeline: a consumer that runs the Phoenix endpoint
 * in its own thread and fans every event it receives out to the subscribers of the event's topic.
 *
 * ```
 *   producer ──events──► [broadcaster thread]
 *      ▲                   handleEvents(batch)
 *      │                     for each: endpoint.broadcast(e.topic, e.event, e.payload)
 *      │                       └─ Hub: serialise once, same bytes to every subscriber
 *      │                     await endpoint.writable()  (no client far behind, queued frames counted:
 *      │                                                 backpressure; without it, await flushed())
 *      └──── demand ◄──────  only then is the batch done, and demand re-issued
 *
 *   runtime.broadcast(topic, event, payload) ──call──► handleCall({ op: 'broadcast' })
 *   with pubsub redis: every broadcast above is also published to the other servers, and theirs
 *   arrive here (lib/cluster/redis-pubsub.ts) ──► endpoint.broadcast, for this server's subscribers
 *   runtime, every second ──call { op: 'metrics', text }──► kept; GET /metrics answers with it
 *   durable events (e.ack set): a duplicate of one handed on lately is skipped; the others, once
 *   broadcast and their publishes answered, are acknowledged (XACK, lib/queue/stream-acker.ts)
 * ```
 *
 * Demand follows what the clients take: with `backpressure` (the default) a batch is done once no
 * client has more than half its outbound limit waiting (frames queued count as soon as they are
 * queued); without it, once its frames have been handed to the sockets (or dropped by their policy). So a fast pipeline slows to what its
 * clients read, and the events wait upstream in bounded stage buffers (where `push()` says false)
 * instead of being dropped for clients. A client behind for longer than the grace (1 s) no longer
 * holds demand back: stalled clients cost the others at most that second in every two (see
 * Endpoint.writable), then their frames wait in their own bounded outbound queues, under their policy.
 *
 * The endpoint and the broadcaster share a thread (DESIGN.md drew them as two): a hop between
 * them would copy every event once more for nothing, and both must live and die together anyway.
 * An event without a topic, or whose payload the endpoint cannot serialise, is dropped and counted
 * (`stage:dropped`, reason `undeliverable`); the stage carries on.
 *
 * Measured here (lib/metrics/thread-metrics.ts): push → socket write latency of every delivery
 * (the endpoint's latency sink), events dispatched to the fan-out, deliveries and the deliveries
 * the outbound policy dropped. `/metrics` serves the Prometheus text the runtime renders in the
 * main thread, where the figures of every thread are added up, and pushes here every second.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidArgumentError } from '../errors.js'
import { ENDPOINT_DEFAULTS, Endpoint } from '../channels/endpoint.js'
import type { ConnectionInfo, EndpointStats } from '../channels/events.js'
import { checkChannelModule } from '../channels/behaviour.js'
import type { AnyChannelModule } from '../channels/behaviour.js'
import type { TopicRoute } from '../channels/topics.js'
import { defineConsumer } from '../stage/behaviour.js'
import type { Envelope } from '../stage/envelope.js'
import type { EndpointSettings } from '../supervisor/endpoint-spec.js'
import { threadMetrics } from '../metrics/thread-metrics.js'
import type { MetricsCollector } from '../metrics/thread-metrics.js'
import { refusedMethod, servePage } from './broadcaster-page.js'
import { broadcasterHealth } from '../cluster/health.js'
import type { BroadcasterHealth } from '../cluster/health.js'
import type { RedisPubSubSettings } from '../cluster/pubsub-spec.js'
import { RedisPubSub } from '../cluster/redis-pubsub.js'
import type { PubSubStats } from '../cluster/redis-pubsub.js'
import { StreamAcker } from '../queue/stream-acker.js'
import type { DurableStats } from '../queue/stream-acker.js'

/** The broadcaster's args, built by the spec from its `endpoint` key. */
export interface BroadcasterArgs {
  endpoint: EndpointSettings
  /** From its `pubsub` key (lib/cluster/pubsub-spec.ts); absent: broadcasts stay on this server. */
  pubsub?: RedisPubSubSettings
}

/** What `runtime.call(broadcasterId, request)` understands. */
export type BroadcasterRequest =
  | { op: 'broadcast', topic: string, event: string, payload: object }
  | { op: 'stats' }
  /** Its open connections (`Endpoint.connections()`), or those whose token's data has `assign[0]` equal to `assign[1]`. */
  | { op: 'connections', assign?: [string, unknown] }
  | { op: 'address' }
  /** Its endpoint's and its cluster adapter's health (what `runtime.health()` gathers). */
  | { op: 'health' }
  /** The runtime's Prometheus exposition, served at `/metrics` until the next one (sent by the runtime). */
  | { op: 'metrics', text: string, contentType: string, queues?: Record<string, 'up' | 'down'> }

/** The reply to `{ op: 'address' }`. */
export interface BroadcasterAddress {
  host: string
  port: number
  /** The mount path: clients connect to `ws://host:port<path>/websocket?vsn=2.0.0`. */
  path: string
}

/** The reply to `{ op: 'stats' }`: the endpoint's, the durable events' acks, and the cluster adapter's when there is one. */
export type BroadcasterStats = EndpointStats & {
  durable: DurableStats
  pubsub?: PubSubStats
  /**
   * With a cluster adapter: the part of the endpoint's `broadcasts` and `fanout` that came from other
   * servers (what this server's own pipeline and calls broadcast is the rest).
   */
  remote?: { broadcasts: number, fanout: number }
}

/** The latest Prometheus exposition, for `/metrics`. */
interface Exposition {
  text: string
  contentType: string
  /** The durable queues' Redis as the runtime last saw it, by producer: `/health` is degraded while one is down. */
  queues: Record<string, 'up' | 'down'>
}

interface State {
  readonly endpoint: Endpoint
  readonly address: BroadcasterAddress
  readonly closeTimeoutMs: number | undefined
  /** What handleEvents waits for before the batch is done (null: backpressure off). */
  readonly backpressure: { highWaterBytes: number, graceMs: number } | null
  readonly exposition: Exposition
  /** Adds the endpoint's counts since its last call to the thread's metrics. */
  readonly collect: MetricsCollector
  /** Stops adding them at each report. */
  readonly stopCollecting: () => void
  /** The Redis adapter, when the spec has `pubsub: { adapter: 'redis' }`. */
  readonly cluster: RedisPubSub | null
  /** Acknowledges durable events, and remembers the latest to drop duplicates. */
  readonly acker: StreamAcker
  /** Broadcasts of other servers handed to the endpoint, and their subscribers here. */
  readonly remote: { broadcasts: number, fanout: number }
}

/** How long a client that is behind may hold demand back before it is left to its outbound policy. */
const BACKPRESSURE_GRACE_MS = 1000

/** The event name used when an event carries a topic but no event name. */
export const DEFAULT_EVENT = 'event'

export default defineConsumer<State, BroadcasterArgs>({
  async init (args, ctx) {
    const { channels: paths, closeTimeoutMs, page, backpressure, ...options } = args.endpoint
    const channels: Array<TopicRoute<AnyChannelModule>> = []
    for (let i = 0; i < paths.length; i++) {
      const [pattern, url] = paths[i] as [string, string]
      channels.push([pattern, await loadChannelModule(url, `broadcaster "${ctx.id}": endpoint.channels[${i}] (${url})`)])
    }
    const socketPath = options.path ?? '/socket'
    // Filled in once the endpoint exists; requests cannot arrive before listen() anyway.
    let onRequest: (req: IncomingMessage, res: ServerResponse) => boolean = () => false
    const endpoint = new Endpoint({ ...options, channels, onRequest: (req, res) => onRequest(req, res) })
    const exposition: Exposition = { text: '', contentType: 'text/plain; version=0.0.4; charset=utf-8', queues: {} }
    const acker = new StreamAcker()
    const remote = { broadcasts: 0, fanout: 0 }
    const cluster = args.pubsub === undefined
      ? null
      : new RedisPubSub(args.pubsub, {
        deliver: (topic, event, payload, ts, dedup) => {
          // A durable event another server handed on: remembered, so that a later claim of it here is dropped.
          if (dedup !== undefined && acker.duplicate(dedup)) return
          remote.fanout += endpoint.broadcast(topic, event, payload, ts, true)
          remote.broadcasts++
        },
        dropped: (count) => ctx.dropped?.(count, 'pubsub_down'),
      })
    onRequest = (req, res) => serveHttp(req, res, endpoint, exposition, page === true ? { secret: options.secret, socketPath } : null, cluster)
    endpoint.recordLatency(threadMetrics.delivery)
    const collect = endpointCollector(endpoint)
    const stopCollecting = threadMetrics.collect(collect)
    const { port } = await endpoint.listen()
    await cluster?.start()
    return {
      endpoint,
      address: { host: options.host ?? '127.0.0.1', port, path: socketPath },
      closeTimeoutMs,
      backpressure: backpressure === false
        ? null
        : {
            highWaterBytes: backpressure?.highWaterBytes ?? Math.floor((options.outboundLimitBytes ?? ENDPOINT_DEFAULTS.outboundLimitBytes) / 2),
            graceMs: backpressure?.graceMs ?? BACKPRESSURE_GRACE_MS,
          },
      exposition,
      collect,
      stopCollecting,
      cluster,
      acker,
      remote,
    }
  },

  async handleEvents (events, _from, state, ctx) {
    const endpoint = state.endpoint
    let undeliverable = 0
    threadMetrics.dispatched += events.length
    const acker = state.acker
    let durable = 0
    let duplicates = 0
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as Envelope
      // A durable event is acknowledged whatever becomes of it here: delivered, a duplicate, or undeliverable.
      let dedup: string | undefined
      if (e.ack !== undefined) {
        acker.add(e.ack, e.id)
        durable++
        dedup = acker.keyOf(e.ack, e.id)
        if (dedup !== undefined && acker.duplicate(dedup)) {
          duplicates++
          continue
        }
      }
      if (e.topic === undefined) {
        undeliverable++
        continue
      }
      try {
        endpoint.broadcast(e.topic, e.event ?? DEFAULT_EVENT, e.payload as object, e.ts)
      } catch {
        // A payload the endpoint cannot serialise: that event is lost, not the batch.
        undeliverable++
        continue
      }
      state.cluster?.publish(e.topic, e.event ?? DEFAULT_EVENT, e.payload as object, e.ts, dedup)
    }
    // Duplicates were dispatched once already: not counted again.
    threadMetrics.dispatched -= duplicates
    if (undeliverable > 0) {
      threadMetrics.dispatched -= undeliverable
      ctx.dropped?.(undeliverable, 'undeliverable')
    }
    // Acknowledged once their publishes are answered (handed to the other servers, or counted dropped).
    if (durable > 0) acker.flush(state.cluster?.afterPublished())
    // Redis slower than the pipeline: wait for its answers rather than queue publishes or acks without bound.
    const published = state.cluster?.drained()
    if (published !== undefined) await published
    const acked = acker.drained()
    if (acked !== undefined) await acked
    // With back-pressure the batch is done once no client has more than its mark waiting, counting
    // frames queued and not yet written: waiting for the write itself too (flushed) cost a turn of
    // the event loop per batch, and a stage that hands over one result at a time (a
    // consumer_supervisor) then capped the pipeline at ~16 k events/s to 1,000 clients (p99 < 50 ms;
    // 30 k/s held p99 12 ms without it, e2e bench). Without back-pressure, demand follows the writes.
    if (state.backpressure !== null) await endpoint.writable(state.backpressure.highWaterBytes, state.backpressure.graceMs)
    else await endpoint.flushed()
  },

  handleCall (request, state) {
    return { reply: answer(request as BroadcasterRequest, state), state }
  },

  async terminate (_reason, state) {
    try {
      await state.cluster?.close()
      await state.acker.close()
      await state.endpoint.close(state.closeTimeoutMs === undefined ? {} : { timeoutMs: state.closeTimeoutMs })
    } finally {
      // The last deliveries go into the thread's final report; then the endpoint is forgotten.
      state.collect(threadMetrics)
      state.stopCollecting()
    }
  },
})

function answer (request: BroadcasterRequest, state: State): number | BroadcasterStats | BroadcasterAddress | BroadcasterHealth | ConnectionInfo[] | null {
  switch (request?.op) {
    case 'broadcast': {
      const subscribers = state.endpoint.broadcast(request.topic, request.event, request.payload)
      state.cluster?.publish(request.topic, request.event, request.payload, undefined)
      return subscribers
    }
    case 'connections': {
      const all = state.endpoint.connections()
      const assign = request.assign
      return assign === undefined ? all : all.filter((c) => (c.assigns as Record<string, unknown> | null)?.[assign[0]] === assign[1])
    }
    case 'stats': {
      const stats = { ...state.endpoint.stats(), durable: state.acker.stats() }
      return state.cluster === null ? stats : { ...stats, pubsub: state.cluster.stats(), remote: { ...state.remote } }
    }
    case 'health': {
      const stats = state.endpoint.stats()
      return broadcasterHealth(stats.connections, stats.channels, state.cluster?.stats())
    }
    case 'address':
      return state.address
    case 'metrics':
      if (typeof request.text !== 'string' || typeof request.contentType !== 'string') {
        throw new InvalidArgumentError('a broadcaster\'s { op: "metrics" } takes { text, contentType } strings')
      }
      state.exposition.text = request.text
      state.exposition.contentType = request.contentType
      state.exposition.queues = request.queues ?? {}
      return null
    default:
      throw new InvalidArgumentError(`a broadcaster answers { op: "broadcast" | "stats" | "connections" | "address" | "health" | "metrics" }, got ${JSON.stringify(request)}`)
  }
}

/**
 * The endpoint's plain HTTP routes: `/health` (JSON: status, connections, channels, pubsub, and
 * queues when the tree has durable ones; 200 while everything delivers, 503 `degraded` while the
 * cluster adapter or a durable queue's Redis is down, the latter as of the runtime's last report),
 * `/metrics` (the runtime's Prometheus text, as of its last push here; 503 before the first),
 * and, when the spec asks for it, the demo page at `/`. Other methods than GET and HEAD get 405.
 */
function serveHttp (req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, exposition: Exposition, page: { secret: string, socketPath: string } | null, cluster: RedisPubSub | null): boolean {
  const path = (req.url ?? '/').split('?')[0]
  if ((path === '/health' || path === '/metrics') && refusedMethod(req, res, path)) return true
  if (path === '/health') {
    const stats = endpoint.stats()
    const health = broadcasterHealth(stats.connections, stats.channels, cluster?.stats())
    const queueDown = Object.values(exposition.queues).includes('down')
    const status = health.status === 'ok' && queueDown ? 'degraded' : health.status
    const queues = Object.keys(exposition.queues).length > 0 ? { queues: exposition.queues } : {}
    res.writeHead(status === 'ok' ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(JSON.stringify({ status, connections: stats.connections, channels: stats.channels, pubsub: health.pubsub, ...queues }))
    return true
  }
  if (path === '/metrics') {
    if (exposition.text === '') {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' })
      res.end('metrics not received from the runtime yet\n')
    } else {
      res.writeHead(200, { 'Content-Type': exposition.contentType, 'Cache-Control': 'no-store' })
      res.end(exposition.text)
    }
    return true
  }
  return page !== null && servePage(req, res, page.secret, page.socketPath)
}

/**
 * Adds what the endpoint counted since the previous call (deliveries, and deliveries dropped by
 * the outbound policy) to the thread's metrics: the endpoint keeps totals, reports carry deltas.
 */
function endpointCollector (endpoint: Endpoint): MetricsCollector {
  let delivered = 0
  const drops: Record<string, number> = {}
  return (metrics) => {
    const stats = endpoint.stats()
    metrics.delivered += stats.delivered - delivered
    delivered = stats.delivered
    for (const [reason, count] of Object.entries(stats.drops)) {
      const delta = count - (drops[reason] ?? 0)
      if (delta > 0) metrics.deliveryDrops[reason] = (metrics.deliveryDrops[reason] ?? 0) + delta
      drops[reason] = count
    }
  }
}

/** Imports a channel module: its default export, else its namespace. */
async function loadChannelModule (url: string, where: string): Promise<AnyChannelModule> {
  const namespace = await import(url) as Record<string, unknown>
  const module = namespace.default ?? namespace
  try {
    checkChannelModule(module, 'module')
  } catch (err) {
    throw new InvalidArgumentError(`${where}: ${(err as Error).message}`)
  }
  return module
}
