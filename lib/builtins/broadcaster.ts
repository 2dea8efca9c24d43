/**
 * `builtin:broadcaster` — the last stage of a pipeline: a consumer that runs the Phoenix endpoint
 * in its own thread and fans every event it receives out to the subscribers of the event's topic.
 *
 * ```
 *   producer ──events──► [broadcaster thread]
 *      ▲                   handleEvents(batch)
 *      │                     for each: endpoint.broadcast(e.topic, e.event, e.payload)
 *      │                       └─ Hub: serialise once, same bytes to every subscriber
 *      │                     await endpoint.flushed()   (the fan-out's slices are written)
 *      └──── demand ◄──────  only then is the batch done, and demand re-issued
 *
 *   runtime.broadcast(topic, event, payload) ──call──► handleCall({ op: 'broadcast' })
 * ```
 *
 * Demand follows what the sockets take: the batch is not done until its frames have been handed to
 * the sockets (or dropped by their outbound policy), so a burst cannot pile up inside the endpoint
 * while the producers keep sending. A slow client does not hold the others back: its frames wait
 * in its own bounded outbound queue, under its policy.
 *
 * The endpoint and the broadcaster share a thread (DESIGN.md drew them as two): a hop between
 * them would copy every event once more for nothing, and both must live and die together anyway.
 * An event without a topic, or whose payload the endpoint cannot serialise, is dropped and counted
 * (`stage:dropped`, reason `undeliverable`); the stage carries on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidArgumentError } from '../errors.js'
import { Endpoint } from '../channels/endpoint.js'
import type { EndpointStats } from '../channels/events.js'
import { checkChannelModule } from '../channels/behaviour.js'
import type { AnyChannelModule } from '../channels/behaviour.js'
import type { TopicRoute } from '../channels/topics.js'
import { defineConsumer } from '../stage/behaviour.js'
import type { Envelope } from '../stage/envelope.js'
import type { EndpointSettings } from '../supervisor/endpoint-spec.js'
import { servePage } from './broadcaster-page.js'

/** The broadcaster's args, built by the spec from its `endpoint` key. */
export interface BroadcasterArgs {
  endpoint: EndpointSettings
}

/** What `runtime.call(broadcasterId, request)` understands. */
export type BroadcasterRequest =
  | { op: 'broadcast', topic: string, event: string, payload: object }
  | { op: 'stats' }
  | { op: 'address' }

/** The reply to `{ op: 'address' }`. */
export interface BroadcasterAddress {
  host: string
  port: number
  /** The mount path: clients connect to `ws://host:port<path>/websocket?vsn=2.0.0`. */
  path: string
}

interface State {
  readonly endpoint: Endpoint
  readonly address: BroadcasterAddress
  readonly closeTimeoutMs: number | undefined
}

/** The event name used when an event carries a topic but no event name. */
export const DEFAULT_EVENT = 'event'

export default defineConsumer<State, BroadcasterArgs>({
  async init (args, ctx) {
    const { channels: paths, closeTimeoutMs, page, ...options } = args.endpoint
    const channels: Array<TopicRoute<AnyChannelModule>> = []
    for (let i = 0; i < paths.length; i++) {
      const [pattern, url] = paths[i] as [string, string]
      channels.push([pattern, await loadChannelModule(url, `broadcaster "${ctx.id}": endpoint.channels[${i}] (${url})`)])
    }
    const socketPath = options.path ?? '/socket'
    // Filled in once the endpoint exists; requests cannot arrive before listen() anyway.
    let onRequest: (req: IncomingMessage, res: ServerResponse) => boolean = () => false
    const endpoint = new Endpoint({ ...options, channels, onRequest: (req, res) => onRequest(req, res) })
    onRequest = (req, res) => serveHttp(req, res, endpoint, page === true ? { secret: options.secret, socketPath } : null)
    const { port } = await endpoint.listen()
    return {
      endpoint,
      address: { host: options.host ?? '127.0.0.1', port, path: socketPath },
      closeTimeoutMs,
    }
  },

  async handleEvents (events, _from, state, ctx) {
    const endpoint = state.endpoint
    let undeliverable = 0
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as Envelope
      if (e.topic === undefined) {
        undeliverable++
        continue
      }
      try {
        endpoint.broadcast(e.topic, e.event ?? DEFAULT_EVENT, e.payload as object, e.ts)
      } catch {
        // A payload the endpoint cannot serialise: that event is lost, not the batch.
        undeliverable++
      }
    }
    if (undeliverable > 0) ctx.dropped?.(undeliverable, 'undeliverable')
    await endpoint.flushed()
  },

  handleCall (request, state) {
    return { reply: answer(request as BroadcasterRequest, state), state }
  },

  async terminate (_reason, state) {
    await state.endpoint.close(state.closeTimeoutMs === undefined ? {} : { timeoutMs: state.closeTimeoutMs })
  },
})

function answer (request: BroadcasterRequest, state: State): number | EndpointStats | BroadcasterAddress {
  switch (request?.op) {
    case 'broadcast':
      return state.endpoint.broadcast(request.topic, request.event, request.payload)
    case 'stats':
      return state.endpoint.stats()
    case 'address':
      return state.address
    default:
      throw new InvalidArgumentError(`a broadcaster answers { op: "broadcast" | "stats" | "address" }, got ${JSON.stringify(request)}`)
  }
}

/**
 * The endpoint's plain HTTP routes: `/health` (JSON: connections, channels; 200 while serving),
 * and, when the spec asks for it, the demo page at `/`.
 */
function serveHttp (req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, page: { secret: string, socketPath: string } | null): boolean {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/health') {
    const stats = endpoint.stats()
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(JSON.stringify({ status: 'ok', connections: stats.connections, channels: stats.channels }))
    return true
  }
  return page !== null && servePage(req, res, page.secret, page.socketPath)
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
