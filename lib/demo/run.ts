/**
 * `stagewire demo` as a library call: a supervision tree from a spec, a feed pushed into it, a
 * process of official Phoenix clients checking what arrives, and the accounting at the end.
 *
 * ```
 *   Replay | FeedGenerator ─► runtime.push(producer, { seq, data }, { topic: feed:<key> })
 *        (waits for `drain` whenever push() says false)      │
 *                                        ingest ─► enrich ─► broadcaster ═ws═► DemoClients (own process)
 *   chaos (optional): runtime.call(stage, { chaos: throw | exit | hang }) every few seconds
 *   end (feed done, duration, abort): stop feeding ─► wait until every pushed event is broadcast,
 *        dropped or lost ─► wait until the clients have what was sent ─► summary ─► close
 * ```
 *
 * Across servers (`pubsub`): every server runs this, and its clients also receive what the others
 * pushed. Each run tags its pushes with an origin; the clients count other origins' deliveries as
 * `remote_delivered`, and the endpoint counts other servers' frames apart (`offeredRemote`), so both
 * identities below stay about this server's own pushes. `pubsub_down` drops (broadcast here, not
 * published) are reported as `not_published`, not in `dropped`: those events did reach this server's
 * clients. With a durable `queue` whose group other servers share, an event pushed here may be read
 * and broadcast by another server (and one pushed there, here): the event identity then holds for
 * the servers together, not for each (see `queue_shared`).
 *
 * Accounting, in two units:
 * - events: `pushed = broadcast + dropped + lost` (the runtime's own counters); a difference is
 *   `unaccounted`, which is a bug.
 * - deliveries (event × subscribed client): `expected_deliveries` is computed here from what was
 *   pushed and which clients joined which topic. It splits into `delivered` (counted by the
 *   clients), `not_broadcast` (deliveries of events lost or dropped before the broadcaster: the
 *   expected count minus the frames the endpoint handed to this run's clients' connections, told
 *   apart by their tokens, so that other clients (the page) do not count), `dropped_at_socket` (the
 *   outbound policy, on those connections) and `missing` (handed over, neither received nor
 *   dropped: a bug).
 *
 * The library prints nothing: progress, chaos and restarts are events; the summary is the result.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { EventEmitter } from 'eventemitter3'
import { signToken } from '../channels/token.js'
import { InvalidArgumentError, SpecError, describeThrown } from '../errors.js'
import { start } from '../runtime.js'
import type { Runtime } from '../runtime.js'
import type { ConnectionInfo, EndpointStats } from '../channels/events.js'
import type { BroadcasterStats } from '../builtins/broadcaster.js'
import type { PubSubStats } from '../cluster/redis-pubsub.js'
import { DemoClients } from './clients.js'
import { FEED_EVENT, checkSpeed, describe } from './feed.js'
import type { FeedEvent, Speed } from './feed.js'
import { FeedGenerator } from './generator.js'
import type { GeneratorOptions } from './generator.js'
import type { ClientsProgress, ClientsSummary } from './protocol.js'
import { backlogProblem, queueBacklog } from './queue-backlog.js'
import { Replay, SKIP_REASONS, scanKeys } from './replay.js'
import type { SkipCounts } from './replay.js'
import { assignTopics, feedTopic } from './topics.js'

/** What the clients are asked to do to a stage, in turn. */
export type ChaosKind = 'throw' | 'exit' | 'hang'
const CHAOS_KINDS: readonly ChaosKind[] = ['throw', 'exit', 'hang']

/** Options of {@link runDemo}; all optional. */
export interface DemoOptions {
  /** The tree spec file (JSON). It needs a producer stage and a `builtin:broadcaster` at its top level. */
  spec: string
  /** Where the endpoint listens: patched into the broadcaster's `endpoint` (default: the spec's; port 0 picks a free one). */
  host?: string
  port?: number
  /** A recording to replay; without it, the built-in generator. */
  replay?: { file: string, key: string, time?: string }
  /** The built-in generator's options (keys, rate, seed, count); ignored with `replay`. */
  generator?: Omit<GeneratorOptions, 'speed' | 'signal'>
  /** Times faster than recorded, or `'max'` (default 1). */
  speed?: Speed
  /** Clients to connect (default 20). */
  clients?: number
  /** Topics each client joins (default 3). */
  topicsPerClient?: number
  /** Seed of the clients' topic choice (default 1). */
  seed?: number
  /** Stop feeding after this long (ms); default: when the feed ends or `signal` aborts. */
  durationMs?: number
  /** Kill a pipeline stage (not the broadcaster: its clients would be cut off) every `chaosEveryMs`. */
  chaos?: boolean
  /** Default 3000 ms. */
  chaosEveryMs?: number
  /** Redis URL of a cluster adapter (`pubsub: { adapter: 'redis' }` on the broadcaster): run several demos, one per server. */
  pubsub?: string
  /** A durable queue for the producer (it becomes `builtin:queue` with `queue: { kind: 'redis-streams', ... }`). */
  queue?: { url: string, stream: string, group: string }
  /** Aborting stops the feed; the run then drains and summarises as after `durationMs`. */
  signal?: AbortSignal
  /** How long the end waits for in-flight events and deliveries (default 30,000 ms). */
  drainTimeoutMs?: number
  /** How often `progress` is emitted (default 250 ms). */
  progressMs?: number
}

/** Latency in ms; null when nothing was delivered. */
export interface LatencyMs { p50: number | null, p90: number | null, p99: number | null, max: number | null }

/** What `runDemo` resolves to (snake_case: it is printed as JSON as it is). */
export interface DemoSummary {
  /** `generator` or the recording's path. */
  feed: string
  seconds: number
  /** Events pushed into the producer. */
  pushed: number
  /** Events the broadcaster fanned out. */
  broadcast: number
  /** Events lost inside crashed stages. */
  lost: number
  /** Events dropped by a stage, all reasons but `pubsub_down` (see `not_published`). */
  dropped: number
  dropped_by_reason: Record<string, number>
  /** `pushed - broadcast - dropped - lost`: 0 unless something is wrong (per server; see `queue_shared`). */
  unaccounted: number
  /** Events broadcast here but not published to the other servers (the cluster adapter was down). */
  not_published: number
  /** Deliveries to this server's clients of events pushed on other servers (`pubsub`); not in the identities. */
  remote_delivered: number
  /** A durable queue is on with a cluster adapter: servers may read each other's pushes (identities per cluster). */
  queue_shared: boolean
  /**
   * With a durable queue: what its group still owed when this run ended (read and not acknowledged,
   * or not read), waiting in Redis for the next reader; null without a queue or when Redis could not
   * be asked. Across servers sharing the group, the sums of the summaries hold with the last one's:
   * Σ pushed = Σ broadcast + Σ dropped + Σ lost + queue_left.
   */
  queue_left: number | null
  /** The cluster adapter's counts (null without one). */
  pubsub: { published: number, received: number, dropped: number, missed: number } | null
  restarts: number
  /** Events pushed per second, from the first push until everything was delivered. */
  events_per_s: number
  expected_deliveries: number
  delivered: number
  /** Deliveries of events that never reached the broadcaster (lost or dropped upstream). */
  not_broadcast: number
  /** Deliveries the endpoint dropped for slow clients (its outbound policy). */
  dropped_at_socket: number
  /** Deliveries fanned out but neither received nor dropped: 0 unless something is wrong. */
  missing: number
  misrouted: number
  duplicates: number
  invalid: number
  latency_ms: LatencyMs
  /**
   * Deliveries whose receipt time came out before their push time (the clocks of the two processes
   * disagreed): recorded as 1 µs, so many of them pull p50 towards 0; 0 when the clocks agree.
   */
  latency_negative: number
  clients: number
  joined: number
  /** Topics the clients joined. */
  topics: number
  /** Recording lines skipped, by reason (all 0 for the generator). */
  skipped: SkipCounts
  chaos: { kills: number }
  /** Client-side socket and channel errors, and disconnects. */
  client_errors: number
  disconnects: number
  /** The first few problems the clients described. */
  samples: string[]
}

/** A live reading, every `progressMs`. */
export interface DemoProgress {
  seconds: number
  pushed: number
  /** Over the last interval. */
  eventsPerS: number
  delivered: number
  p50: number | null
  p99: number | null
  dropped: number
  lost: number
  restarts: number
  misrouted: number
}

/** Events of {@link DemoRun}. */
export interface DemoEvents {
  /** The tree is up and every client joined. */
  ready: (info: { url: string, pageUrl: string, clients: number, topics: string[], subscribers: Record<string, number>, feed: string }) => void
  progress: (progress: DemoProgress) => void
  /** The feed stopped (ended, duration, abort); draining follows. */
  draining: (why: 'feed_done' | 'duration' | 'aborted') => void
  chaos: (info: { stage: string, kind: ChaosKind }) => void
  restart: (info: { id: string, reason: string }) => void
}

const DEFAULTS = { clients: 20, topicsPerClient: 3, seed: 1, chaosEveryMs: 3000, drainTimeoutMs: 30_000, progressMs: 250 } as const
/** Connect tokens live as long as a demo may reasonably run. */
const TOKEN_SECONDS = 7 * 24 * 3600

/**
 * One demo run. `run()` once; listen to the events first.
 *
 * ```ts
 * const demo = new DemoRun({ spec: 'examples/demo/tree.json', port: 0, clients: 5, durationMs: 3000 })
 * demo.on('progress', (p) => ...)
 * const summary = await demo.run()
 * ```
 */
export class DemoRun extends EventEmitter<DemoEvents> {
  readonly #o: Required<Omit<DemoOptions, 'host' | 'port' | 'replay' | 'generator' | 'durationMs' | 'signal' | 'pubsub' | 'queue'>> & DemoOptions
  #started = false

  /** @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` an option is invalid. */
  constructor (options: DemoOptions) {
    super()
    this.#o = { ...DEFAULTS, speed: 1, chaos: false, ...checkOptions(options) }
  }

  /**
   * Runs the demo to its end and tears everything down.
   *
   * @throws {SpecError} the spec is invalid or lacks a producer or broadcaster.
   * @throws the runtime's start errors (`ERR_ACTOR_INIT` when the port is taken, ...), the clients'
   *   (`ERR_CLIENTS_JOIN` ...), or a recording's file system error. Nothing is left running.
   */
  async run (): Promise<DemoSummary> {
    if (this.#started) throw new InvalidArgumentError('a DemoRun runs once')
    this.#started = true
    const o = this.#o
    const { tree, producer, broadcaster, targets, secret } = loadDemoSpec(o.spec, o.host, o.port, o.pubsub, o.queue)
    // Across servers, this run's pushes are told apart from the others' by an origin tag.
    const origin = o.pubsub !== undefined ? randomBytes(4).toString('hex') : undefined
    const runId = randomBytes(6).toString('hex')

    // The feed, and the keys the clients choose among (a recording is scanned first, unpaced).
    const stopFeed = new AbortController()
    let feed: AsyncIterable<FeedEvent>
    let keys: string[]
    let replay: Replay | undefined
    if (o.replay !== undefined) {
      let scan
      try {
        scan = await scanKeys(o.replay.file, o.replay.key, { time: o.replay.time, signal: o.signal })
      } catch (err) {
        // A truncated gzip or an unreadable file: say which file (Node's message does not).
        if (err instanceof Error && !err.message.includes(o.replay.file)) err.message = `${o.replay.file}: ${err.message}`
        throw err
      }
      if (scan.keys.length === 0) {
        // Say which of the two was missing: lines with a key and no time used to read as "no usable key".
        const skipped = Object.entries(scan.skipped).filter(([, n]) => n > 0).map(([why, n]) => `${why} ${n}`).join(', ')
        throw new InvalidArgumentError(`${o.replay.file}: no line has both a usable key "${o.replay.key}" and a time (field "${o.replay.time ?? 'time'}" or a "<unix-seconds>: " prefix); ${scan.lines} lines read${skipped === '' ? '' : `, skipped: ${skipped}`}`)
      }
      keys = scan.keys.map((k) => k.key)
      replay = new Replay(o.replay.file, { key: o.replay.key, time: o.replay.time, speed: o.speed, signal: stopFeed.signal })
      feed = replay
    } else {
      const generator = new FeedGenerator({ ...withoutUndefined(o.generator ?? {}), speed: o.speed, signal: stopFeed.signal })
      keys = generator.keys.map((k) => k.key)
      feed = generator
    }
    // The most frequent keys, a few more than one client joins, so that clients differ.
    const pool = keys.slice(0, Math.max(o.topicsPerClient, Math.min(keys.length, o.clients, 40)))
    const topics = assignTopics(o.clients, { keys: pool, perClient: o.topicsPerClient, seed: o.seed })

    if (o.queue !== undefined) {
      const backlog = await queueBacklog(o.queue)
      const problem = backlog === undefined ? null : backlogProblem(o.queue, backlog, o.pubsub !== undefined)
      if (problem !== null) throw new InvalidArgumentError(problem)
    }
    const runtime = await start(tree, { baseDir: dirname(o.spec) })
    let clients: DemoClients | undefined
    try {
      const address = await runtime.endpointAddress(broadcaster)
      // Tagged with this run, so that its accounting leaves out other clients (the page, a viewer).
      const tokens = topics.map((_, i) => signToken({ demoClient: i, demoRun: runId }, secret, { maxAgeSeconds: TOKEN_SECONDS }))
      clients = await DemoClients.start({ url: address.url, tokens, topics, progressMs: o.progressMs, ...(origin !== undefined ? { origin } : {}) })
      return await this.#drive(runtime, clients, { origin, runId, feed, replay, stopFeed, producer, broadcaster, targets, pageUrl: `http://${address.host}:${address.port}/`, socketUrl: address.url })
    } finally {
      clients?.destroy()
      await runtime.close()
    }
  }

  async #drive (runtime: Runtime, clients: DemoClients, ctx: {
    origin: string | undefined
    runId: string
    feed: AsyncIterable<FeedEvent>
    replay: Replay | undefined
    stopFeed: AbortController
    producer: string
    broadcaster: string
    targets: string[]
    pageUrl: string
    socketUrl: string
  }): Promise<DemoSummary> {
    const o = this.#o
    const subscribers = new Map(Object.entries(clients.ready.subscribers))
    const counts = { pushed: 0, expected: 0, lost: 0, dropped: 0, notPublished: 0, restarts: 0, kills: 0 }
    const droppedBy: Record<string, number> = {}
    runtime.on('stage:lost', (e) => { counts.lost += e.count })
    runtime.on('stage:dropped', (e) => {
      // Broadcast to this server's clients, only not passed on: not a drop of the event here.
      if (e.reason === 'pubsub_down') {
        counts.notPublished += e.count
        return
      }
      counts.dropped += e.count
      droppedBy[e.reason] = (droppedBy[e.reason] ?? 0) + e.count
    })
    runtime.on('child:restarted', (e) => {
      counts.restarts++
      this.emit('restart', { id: e.id, reason: e.reason.kind === 'error' ? describeThrown(e.reason.error) : e.reason.kind })
    })
    this.emit('ready', {
      url: ctx.socketUrl,
      pageUrl: ctx.pageUrl,
      clients: clients.ready.clients,
      topics: [...subscribers.keys()],
      subscribers: { ...clients.ready.subscribers },
      feed: o.replay?.file ?? 'generator',
    })

    // Why the feed stops: the first of these wins.
    let why: 'feed_done' | 'duration' | 'aborted' = 'feed_done'
    const stop = (reason: typeof why): void => {
      if (ctx.stopFeed.signal.aborted) return
      why = reason
      ctx.stopFeed.abort()
    }
    const onAbort = (): void => stop('aborted')
    if (o.signal?.aborted === true) stop('aborted')
    o.signal?.addEventListener('abort', onAbort, { once: true })
    const durationTimer = o.durationMs !== undefined ? setTimeout(() => stop('duration'), o.durationMs) : undefined

    let latest: ClientsProgress = { delivered: 0, remoteDelivered: 0, misrouted: 0, duplicates: 0, invalid: 0, errors: 0, p50: null, p99: null }
    clients.on('progress', (p) => { latest = p })
    const startedAt = performance.now()
    let lastTick = { at: startedAt, pushed: 0 }
    const progress = setInterval(() => {
      const now = performance.now()
      this.emit('progress', {
        seconds: (now - startedAt) / 1000,
        pushed: counts.pushed,
        eventsPerS: (counts.pushed - lastTick.pushed) / ((now - lastTick.at) / 1000),
        delivered: latest.delivered,
        p50: latest.p50,
        p99: latest.p99,
        dropped: counts.dropped,
        lost: counts.lost,
        restarts: counts.restarts,
        misrouted: latest.misrouted,
      })
      lastTick = { at: now, pushed: counts.pushed }
    }, o.progressMs)

    let turn = 0
    const chaos = o.chaos && ctx.targets.length > 0
      ? setInterval(() => {
        const stage = ctx.targets[Math.floor(Math.random() * ctx.targets.length)] as string
        const kind = CHAOS_KINDS[turn++ % CHAOS_KINDS.length] as ChaosKind
        counts.kills++
        this.emit('chaos', { stage, kind })
        // A stage already down (restarting) refuses the call: that kill simply does not happen.
        runtime.call(stage, { chaos: kind }).catch(() => { counts.kills-- })
      }, o.chaosEveryMs)
      : undefined

    try {
      // Feed: every push is accounted for; on false, wait for `drain` (or the stop) before the next.
      const pusher = runtime.pusher(ctx.producer)
      const waitForDrain = (): Promise<void> => new Promise((resolve) => {
        const done = (): void => {
          runtime.off('drain', onDrain)
          ctx.stopFeed.signal.removeEventListener('abort', done)
          resolve()
        }
        const onDrain = (e: { stage: string }): void => { if (e.stage === ctx.producer) done() }
        runtime.on('drain', onDrain)
        ctx.stopFeed.signal.addEventListener('abort', done, { once: true })
      })
      if (!ctx.stopFeed.signal.aborted) {
        for await (const event of ctx.feed) {
          if (ctx.stopFeed.signal.aborted) break
          const topic = feedTopic(event.key)
          const payload = ctx.origin === undefined ? { seq: counts.pushed, data: event.event } : { seq: counts.pushed, data: event.event, origin: ctx.origin }
          const accepted = pusher.push(payload, { topic, event: FEED_EVENT })
          counts.pushed++
          counts.expected += subscribers.get(topic) ?? 0
          if (!accepted) await waitForDrain()
        }
      }
      if (!ctx.stopFeed.signal.aborted) stop('feed_done')
      this.emit('draining', why)
      clearInterval(chaos)

      // Drain: every pushed event broadcast, dropped or lost; then the clients have what was sent.
      const deadline = performance.now() + o.drainTimeoutMs
      let stats = await broadcasterStats(runtime, ctx.broadcaster)
      // (broadcasterStats counts this server's own broadcasts only: the remote ones are taken out.)
      // With a shared durable queue this server may broadcast more or fewer than it pushed: it waits
      // instead until its broadcasts have stopped moving for a second.
      const shared = o.queue !== undefined && o.pubsub !== undefined
      let still = { broadcasts: stats.broadcasts, since: performance.now() }
      while (stats.broadcasts + counts.dropped + counts.lost < counts.pushed && performance.now() < deadline) {
        if (shared && performance.now() - still.since >= 1000) break
        await sleep(50)
        stats = await broadcasterStats(runtime, ctx.broadcaster)
        if (stats.broadcasts !== still.broadcasts) still = { broadcasts: stats.broadcasts, since: performance.now() }
      }
      let toClients = await deliveriesTo(runtime, ctx.broadcaster, ctx.runId)
      const left = Math.max(1, Math.round(deadline - performance.now()))
      await clients.report({ atLeast: toClients.offered - toClients.drops, waitMs: shared ? Math.min(2000, left) : left })
      const seconds = (performance.now() - startedAt) / 1000
      // Read while the clients are still connected: a connection's counts go with it.
      toClients = await deliveriesTo(runtime, ctx.broadcaster, ctx.runId)
      const final = await clients.stop()
      stats = await broadcasterStats(runtime, ctx.broadcaster)
      const queueLeft = o.queue === undefined ? undefined : await queueBacklog(o.queue)
      return this.#summary(counts, droppedBy, stats, toClients, final, seconds, ctx.replay, queueLeft === undefined ? null : queueLeft.pending + queueLeft.unread)
    } finally {
      clearTimeout(durationTimer)
      clearInterval(progress)
      clearInterval(chaos)
      o.signal?.removeEventListener('abort', onAbort)
    }
  }

  #summary (
    counts: { pushed: number, expected: number, lost: number, dropped: number, notPublished: number, restarts: number, kills: number },
    droppedBy: Record<string, number>,
    stats: LocalStats,
    toClients: { offered: number, drops: number },
    clients: ClientsSummary,
    seconds: number,
    replay: Replay | undefined,
    queueLeft: number | null,
  ): DemoSummary {
    // Deliveries are counted on this run's clients' connections only: others (the page) may join too.
    // A drop there may be of another server's frame (with --pubsub): counted here all the same.
    const droppedAtSocket = toClients.drops
    const delivered = clients.delivered - clients.duplicates
    const skipped = replay?.stats().skipped ?? Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as SkipCounts
    return {
      feed: this.#o.replay?.file ?? 'generator',
      seconds: round(seconds, 3),
      pushed: counts.pushed,
      broadcast: stats.broadcasts,
      lost: counts.lost,
      dropped: counts.dropped,
      dropped_by_reason: droppedBy,
      unaccounted: counts.pushed - stats.broadcasts - counts.dropped - counts.lost,
      not_published: counts.notPublished,
      remote_delivered: clients.remoteDelivered,
      queue_shared: this.#o.queue !== undefined && this.#o.pubsub !== undefined,
      queue_left: queueLeft,
      pubsub: stats.pubsub === undefined ? null : { published: stats.pubsub.published, received: stats.pubsub.received, dropped: stats.pubsub.dropped, missed: stats.pubsub.missed },
      restarts: counts.restarts,
      events_per_s: seconds > 0 ? Math.round(counts.pushed / seconds) : 0,
      expected_deliveries: counts.expected,
      delivered,
      not_broadcast: counts.expected - toClients.offered,
      dropped_at_socket: droppedAtSocket,
      missing: toClients.offered - droppedAtSocket - delivered,
      misrouted: clients.misrouted,
      duplicates: clients.duplicates,
      invalid: clients.invalid,
      latency_ms: { p50: clients.latency.p50, p90: clients.latency.p90, p99: clients.latency.p99, max: clients.latency.max },
      latency_negative: clients.latency.negative,
      clients: clients.clients,
      joined: clients.joined,
      topics: Object.keys(clients.perTopic).length,
      skipped,
      chaos: { kills: counts.kills },
      client_errors: clients.errors,
      disconnects: clients.disconnects,
      samples: clients.samples,
    }
  }
}

/** Runs a demo: `new DemoRun(options).run()`. */
export function runDemo (options: DemoOptions): Promise<DemoSummary> {
  return new DemoRun(options).run()
}

/**
 * Whether a summary shows a fault: anything misrouted, duplicated, malformed, unaccounted or
 * missing, or, without chaos, anything lost; or events Redis did not take (queue or pub/sub) when
 * the run was given one. Drops by a configured policy are not faults.
 */
export function demoFailed (summary: DemoSummary, chaos: boolean): string[] {
  const faults: string[] = []
  if (summary.misrouted > 0) faults.push(`${summary.misrouted} misrouted`)
  if (summary.duplicates > 0) faults.push(`${summary.duplicates} duplicates`)
  if (summary.invalid > 0) faults.push(`${summary.invalid} invalid frames`)
  // With a shared durable queue the identities hold across the servers, not for each (see queue_shared).
  if (summary.unaccounted !== 0 && !summary.queue_shared) faults.push(`${summary.unaccounted} events unaccounted for`)
  if (summary.missing !== 0 && !summary.queue_shared) faults.push(`${summary.missing} deliveries missing`)
  if (!chaos && summary.lost > 0) faults.push(`${summary.lost} events lost`)
  if (!chaos && !summary.queue_shared && summary.not_broadcast > 0 && summary.dropped === 0) faults.push(`${summary.not_broadcast} deliveries never broadcast`)
  // Redis trouble is counted, not hidden; but a run that asked for Redis and did without it has
  // not shown what it was asked to show (a queue at an unreachable URL dropped every event, exit 0).
  const unqueued = summary.dropped_by_reason.queue_unavailable ?? 0
  if (unqueued > 0) faults.push(`${unqueued} events not accepted by the durable queue (Redis unreachable?)`)
  if (summary.not_published > 0) faults.push(`${summary.not_published} events not published to the other servers (Redis unreachable?)`)
  return faults
}

interface DemoSpec {
  tree: Record<string, unknown>
  producer: string
  broadcaster: string
  /** The stages chaos may kill: every top-level stage but the broadcaster. */
  targets: string[]
  secret: string
}

/**
 * Reads the demo's spec and patches what the demo decides: the endpoint's host and port, and,
 * when its secret comes from an unset environment variable, a fresh random secret.
 */
function loadDemoSpec (file: string, host: string | undefined, port: number | undefined, pubsub: string | undefined, queue: DemoOptions['queue']): DemoSpec {
  let tree: Record<string, unknown>
  try {
    tree = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  } catch (err) {
    throw new SpecError(`${file}: ${describeThrown(err)}`, '')
  }
  const children = Array.isArray(tree?.children) ? tree.children as Array<Record<string, unknown>> : []
  const stageIds = (pred: (c: Record<string, unknown>) => boolean): string[] =>
    children.filter((c) => typeof c === 'object' && c !== null && typeof c.id === 'string' && pred(c)).map((c) => c.id as string)
  const producer = stageIds((c) => c.stage === 'producer')[0]
  const broadcasterChild = children.find((c) => typeof c === 'object' && c !== null && c.module === 'builtin:broadcaster')
  if (producer === undefined || broadcasterChild === undefined || typeof broadcasterChild.id !== 'string') {
    throw new SpecError(`${file}: the demo needs a tree with a producer stage (fed by push) and a builtin:broadcaster among the root's children`, 'children')
  }
  const endpoint = { ...(broadcasterChild.endpoint as Record<string, unknown> | undefined) }
  if (host !== undefined) endpoint.host = host
  if (port !== undefined) endpoint.port = port
  let secret: string
  if (typeof endpoint.secret === 'string') {
    secret = endpoint.secret
  } else if (typeof endpoint.secretEnv === 'string' && typeof process.env[endpoint.secretEnv] === 'string' && process.env[endpoint.secretEnv] !== '') {
    secret = process.env[endpoint.secretEnv] as string
  } else {
    // Nobody set one: the demo signs its own clients' tokens, so any fresh secret will do.
    secret = randomBytes(32).toString('base64url')
    delete endpoint.secretEnv
    endpoint.secret = secret
  }
  const patched = children.map((c) => {
    if (c === broadcasterChild) return pubsub === undefined ? { ...c, endpoint } : { ...c, endpoint, pubsub: { adapter: 'redis', url: pubsub, prefix: 'stagewire-demo:' } }
    // The stream is the producer: builtin:queue with the durable queue (the demo's chaos hook goes with its module).
    if (queue !== undefined && c.id === producer) return { ...c, module: 'builtin:queue', queue: { kind: 'redis-streams', ...queue } }
    return c
  })
  return {
    tree: { ...tree, children: patched },
    producer,
    broadcaster: broadcasterChild.id,
    targets: stageIds((c) => c !== broadcasterChild && typeof c.stage === 'string' && !(queue !== undefined && c.id === producer)),
    secret,
  }
}

function checkOptions (o: DemoOptions): DemoOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`options must be an object, got ${describe(o)}`)
  if (typeof o.spec !== 'string' || o.spec === '') throw new InvalidArgumentError(`options.spec must be a file path, got ${describe(o.spec)}`)
  const intIn = (name: keyof DemoOptions, min: number, max: number): void => {
    const v = o[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      throw new InvalidArgumentError(`options.${name} must be an integer from ${min} to ${max}, got ${describe(v)}`)
    }
  }
  intIn('port', 0, 65535)
  intIn('clients', 1, 10_000)
  intIn('topicsPerClient', 1, 100)
  intIn('seed', 0, 2 ** 32 - 1)
  intIn('durationMs', 1, 2 ** 31 - 1)
  intIn('chaosEveryMs', 100, 2 ** 31 - 1)
  intIn('drainTimeoutMs', 1, 2 ** 31 - 1)
  intIn('progressMs', 10, 2 ** 31 - 1)
  if (o.speed !== undefined) checkSpeed(o.speed, 'options.speed')
  if (o.replay !== undefined && (typeof o.replay !== 'object' || typeof o.replay.file !== 'string' || typeof o.replay.key !== 'string')) {
    throw new InvalidArgumentError('options.replay must be { file, key, time? }')
  }
  // An option given as undefined means its default.
  const defined = withoutUndefined(o)
  return { ...defined, spec: resolve(o.spec) }
}

/** The endpoint's stats as far as this server's own broadcasts go (other servers' taken out), and the adapter's. */
type LocalStats = EndpointStats & { pubsub?: PubSubStats }

async function broadcasterStats (runtime: Runtime, broadcaster: string): Promise<LocalStats> {
  const stats = await runtime.call(broadcaster, { op: 'stats' }) as BroadcasterStats
  const remote = stats.remote ?? { broadcasts: 0, fanout: 0 }
  return { ...stats, broadcasts: stats.broadcasts - remote.broadcasts, fanout: stats.fanout - remote.fanout }
}

/** This server's deliveries handed to the run's clients' connections, and the drops of their outbound policy. */
async function deliveriesTo (runtime: Runtime, broadcaster: string, runId: string): Promise<{ offered: number, drops: number }> {
  const conns = await runtime.call(broadcaster, { op: 'connections', assign: ['demoRun', runId] }) as ConnectionInfo[]
  let offered = 0
  let drops = 0
  for (const c of conns) {
    offered += c.offered
    drops += c.drops
  }
  return { offered, drops }
}


function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

function withoutUndefined<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
