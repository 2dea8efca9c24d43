/**
 * The runtime: one supervision tree, its registry and its telemetry, as the
 * host app sees them.
 */
import { EventEmitter } from 'eventemitter3'
import type { Registry as PrometheusRegistry } from 'prom-client'
import type { ActorRef } from './actor/ref.js'
import { Registry } from './actor/registry.js'
import { builtinModule } from './builtins/index.js'
import { combineHealth } from './cluster/health.js'
import type { BroadcasterHealth, RuntimeHealth } from './cluster/health.js'
import { ActorNotFoundError, InvalidArgumentError, RuntimeClosedError } from './errors.js'
import { checkEventName } from './channels/serializer.js'
import { MetricsAggregate } from './metrics/aggregate.js'
import type { RuntimeMetrics } from './metrics/aggregate.js'
import { createMetricsRegistry } from './metrics/prometheus.js'
import { threadMetrics } from './metrics/thread-metrics.js'
import type { MetricsReport } from './metrics/thread-metrics.js'
import { IdSource } from './stage/ids.js'
import { PushChannel } from './stage/push.js'
import type { PushMeta } from './stage/push.js'
import { StreamWriter } from './queue/stream-writer.js'
import { Wiring } from './stage/wiring.js'
import type { StageInfo } from './stage/wiring.js'
import type { TelemetryEvents } from './telemetry.js'
import { loadTreeSpecFile, parseChildSpec, parseTreeSpec } from './supervisor/spec.js'
import type { ChildSpec, StageSpec, TreeSpec } from './supervisor/spec.js'
import { Supervisor } from './supervisor/supervisor.js'
import type { SupervisorHost } from './supervisor/supervisor.js'
import type { ChildInfo } from './supervisor/supervisor.js'

/** Options of {@link start}. */
export interface StartOptions {
  /** Where relative module paths of an object spec are resolved from (default `process.cwd()`). */
  baseDir?: string
}

/** Options of {@link Runtime.call}. */
export interface CallOptions {
  /** ms to wait for the reply (default 5000). */
  timeout?: number
}

/** Options of {@link Runtime.broadcast}. */
export interface BroadcastOptions {
  /** The broadcaster stage's id; needed only when the tree has several. */
  via?: string
  /** ms to wait for the broadcaster's answer (default 5000). */
  timeout?: number
}

/** Where a broadcaster's endpoint listens. */
export interface EndpointAddress {
  host: string
  port: number
  /** Mount path; clients connect to `<url>/websocket?vsn=2.0.0`. */
  path: string
  /** What the official client takes: `new Socket(url, ...)`. */
  url: string
}

/** Options of {@link Runtime.close}. */
export interface CloseOptions {
  /** ms for the whole graceful shutdown; past it every remaining thread is terminated (default 30,000). */
  timeout?: number
}

/** The longest delay Node's timers take (2^31 - 1 ms, ~24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Stages running this module are broadcasters. */
const BROADCASTER_URL = builtinModule('broadcaster')

/** How often the runtime emits `metrics` and sends the Prometheus text to its broadcasters' `/metrics` (threads report as often). */
const METRICS_MS = 1000

/** The id of the root supervisor in paths and telemetry. */
export const ROOT = 'root'

type State = 'running' | 'closing' | 'closed' | 'failed'

/**
 * A running supervision tree. Create one with {@link start}.
 *
 * Emits the telemetry events of {@link TelemetryEvents}: `child:started`,
 * `child:exited`, `child:restarted`, `supervisor:intensity` and `fatal`
 * (the root supervisor gave up; every child has been stopped, and the host
 * process carries on), the stage events, and `metrics` every second.
 */
export class Runtime extends EventEmitter<TelemetryEvents> {
  readonly #registry = new Registry()
  readonly #root: Supervisor
  readonly #baseDir: string
  readonly #codec: string
  readonly #wiring: Wiring
  /** The push queue of each producer: in memory (a port to its thread), or a Redis stream's writer. */
  readonly #pushes = new Map<string, PushChannel | StreamWriter>()
  /** Ids of the `builtin:broadcaster` stages, the targets of `broadcast()`. */
  readonly #broadcasters = new Set<string>()
  /** Ids of pushed events: sequential from 1 (seed 0). */
  readonly #ids = new IdSource(0)
  readonly #metrics = new MetricsAggregate()
  readonly #prometheus: PrometheusRegistry
  /** Actors whose metrics reports are listened to. */
  readonly #measured = new WeakSet<ActorRef>()
  /** Stages run in this thread (`thread: "main"`): their measurements are taken here, not reported. */
  #inThread = false
  #metricsTimer: NodeJS.Timeout | undefined
  /** Durable queues' writers not yet connected (startTree connects them before the tree starts). */
  #writers: StreamWriter[] = []
  /** The Prometheus text is on its way to the broadcasters. */
  #exposing = false
  #state: State = 'running'
  #closing: Promise<void> | undefined

  /** @internal use {@link start} */
  constructor (spec: TreeSpec, baseDir: string) {
    super()
    this.#baseDir = baseDir
    this.#codec = spec.codec
    const emit = this.#emit.bind(this) as unknown as SupervisorHost['emit']
    this.#wiring = new Wiring(this.#registry, emit)
    this.#prometheus = createMetricsRegistry({
      metrics: () => this.metrics(),
      delivery: this.#metrics.delivery,
      stageLatency: this.#metrics.stageLatency,
    })
    this.#registry.on('registered', (name, actor) => {
      this.#pushes.get(name)?.attach(actor)
      this.#measure(actor)
    })
    this.#registry.on('unregistered', (name) => this.#pushes.get(name)?.detach())
    this.#writers = this.#addStages(spec.children)
    const host: SupervisorHost = {
      registry: this.#registry,
      codec: spec.codec,
      emit,
      awaitSubscribers: (stage) => this.#wiring.awaitSubscribers(stage),
      hasSubscribers: (stage) => this.#wiring.hasSubscribers(stage),
    }
    this.#root = new Supervisor(ROOT, spec, host, (error) => {
      this.#state = 'failed'
      this.#emit('fatal', { error })
    })
  }

  /** Every telemetry event goes through here: the metrics count what they need of it first. */
  #emit<K extends keyof TelemetryEvents> (event: K, ...args: TelemetryEvents[K]): void {
    if (event === 'stage:dropped') {
      const e = args[0] as TelemetryEvents['stage:dropped'][0]
      this.#metrics.addDropped(e.stage, e.reason, e.count)
    } else if (event === 'child:restarted') {
      this.#metrics.addRestart((args[0] as TelemetryEvents['child:restarted'][0]).id)
    }
    ;(this.emit as (event: K, ...args: TelemetryEvents[K]) => boolean)(event, ...args)
  }

  /** Listens to an actor's metrics reports (once per actor: a thread of several stages registers under each). */
  #measure (actor: ActorRef): void {
    if (this.#measured.has(actor)) return
    this.#measured.add(actor)
    actor.on('metrics', (report) => this.#addReport(report))
  }

  #addReport (report: MetricsReport): void {
    try {
      this.#metrics.add(report)
    } catch {
      // A malformed report is a bug in a thread; it must not take the host down, and the
      // figures it would have added are simply missing.
    }
  }

  /** Every METRICS_MS: `metrics` telemetry, and the Prometheus text to the broadcasters' `/metrics`. */
  #tick (): void {
    if (this.#inThread) {
      const report = threadMetrics.take()
      if (report !== undefined) this.#addReport(report)
    }
    if (this.listenerCount('metrics') > 0) this.#emit('metrics', this.metrics())
    void this.#expose()
  }

  /** Renders the Prometheus text and hands it to every broadcaster, which serves it at `/metrics`. */
  async #expose (): Promise<void> {
    if (this.#exposing || this.#broadcasters.size === 0 || this.#state !== 'running') return
    this.#exposing = true
    try {
      // The durable queues' Redis too: /health is served there, and pushes fail while it is down.
      const queues = Object.fromEntries(this.#durableWriters().map((w) => [w.stage, w.health().queue.redis]))
      const request = { op: 'metrics', text: await this.#prometheus.metrics(), contentType: this.#prometheus.contentType, queues }
      await Promise.all([...this.#broadcasters].map((id) => this.call(id, request).catch(() => {
        // Restarting, or closing: it gets the next one.
      })))
    } finally {
      this.#exposing = false
    }
  }

  /** Registers the stages of `children`; returns the writers of their durable queues, to be started. */
  #addStages (children: ChildSpec[]): StreamWriter[] {
    const stages: StageSpec[] = []
    const walk = (list: ChildSpec[]): void => {
      for (const child of list) {
        if (child.type === 'worker' && child.stages !== undefined) {
          stages.push(...child.stages)
          if (child.inThread === true) this.#inThread = true
        }
        else if (child.type === 'supervisor') walk(child.children)
      }
    }
    walk(children)
    this.#wiring.addStages(stages)
    const writers: StreamWriter[] = []
    for (const stage of stages) {
      if (stage.module === BROADCASTER_URL) this.#broadcasters.add(stage.id)
      if (stage.kind !== 'producer') continue
      const events = {
        drain: (id: string) => this.#emit('drain', { stage: id }),
        dropped: (id: string, count: number, reason: 'no_producer' | 'unencodable' | 'queue_unavailable') => {
          this.#wiring.addDropped(id, count)
          this.#emit('stage:dropped', { stage: id, count, reason })
        },
      }
      if (stage.queue !== undefined) {
        const writer = new StreamWriter(stage, stage.queue, events)
        writers.push(writer)
        this.#pushes.set(stage.id, writer)
      } else {
        this.#pushes.set(stage.id, new PushChannel(stage, this.#ids, this.#codec, events))
      }
    }
    return writers
  }

  /**
   * Pushes one event into producer stage `stage`, wrapped in an envelope
   * with a fresh id and the push time. Never blocks: events are batched and
   * sent to the producer's thread once per tick. Returns `false` once the
   * events pushed and not yet taken by consumers pass the producer's
   * `highWaterMark` (default half its bufferSize); `drain` is emitted when
   * they fall back under half of it. Pushing on regardless is allowed: the
   * producer's `bufferKeep` then decides what is dropped, and drops are
   * reported as `stage:dropped`.
   * @throws ERR_ACTOR_NOT_FOUND when `stage` is not a producer stage; ERR_RUNTIME_CLOSED after close().
   */
  push (stage: string, payload: unknown, meta?: PushMeta): boolean {
    return this.#pushChannel(stage).push(payload, meta)
  }

  /**
   * Pushes one event into a producer with a durable queue (`queue: { kind: 'redis-streams' }`) and
   * resolves with its stream entry id once Redis has confirmed the XADD: from then on the event is
   * accepted, and it reaches the broadcaster at least once even if this process dies. The id is the
   * envelope's `id` all the way to the client. (`push()` on such a producer appends the same way and
   * keeps its boolean contract; what Redis does not confirm is reported as `stage:dropped` with
   * reason `queue_unavailable`.)
   * @throws (rejects) ERR_QUEUE_UNAVAILABLE Redis did not take it (down, or refused): not accepted;
   *   ERR_INVALID_ARGUMENT `stage` has an in-memory queue (it cannot confirm), or a payload that is not data;
   *   ERR_ACTOR_NOT_FOUND no producer stage `stage`; ERR_RUNTIME_CLOSED.
   */
  pushDurable (stage: string, payload: unknown, meta?: PushMeta): Promise<string> {
    try {
      const channel = this.#pushChannel(stage)
      if (!(channel instanceof StreamWriter)) {
        throw new InvalidArgumentError(`pushDurable to "${stage}": its queue is in memory and cannot confirm an event; give it queue: { kind: 'redis-streams', ... } or use push()`)
      }
      return channel.pushDurable(payload, meta)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** {@link push} for many payloads at once, with the same metadata. */
  pushMany (stage: string, payloads: readonly unknown[], meta?: PushMeta): boolean {
    return this.#pushChannel(stage).pushMany(payloads, meta)
  }

  /**
   * The push function of one producer, bound once: skips the lookup by name
   * on every call, for feeders on a hot path.
   * @throws ERR_ACTOR_NOT_FOUND when `stage` is not a producer stage.
   */
  pusher (stage: string): { push: (payload: unknown, meta?: PushMeta) => boolean, pending: () => number } {
    const channel = this.#pushChannel(stage)
    return {
      push: (payload, meta) => {
        if (this.#state !== 'running') throw new RuntimeClosedError(`the runtime is ${this.#state}`)
        return channel.push(payload, meta)
      },
      pending: () => channel.pending,
    }
  }

  /**
   * Broadcasts straight to the clients subscribed to `topic`, without going through a pipeline: the
   * host app's way to send one message (Phoenix's `Endpoint.broadcast`). It goes to the broadcaster
   * stage (`builtin:broadcaster`), which serialises it once for every subscriber. Resolves with how
   * many subscribers the topic had on that endpoint.
   *
   * @throws ERR_INVALID_ARGUMENT (rejects) topic or event not a non-empty string, event reserved by the
   *   Phoenix protocol (`phx_*`, `chan_reply_*`), payload not a plain
   *   object, or several broadcasters and no `options.via`; ERR_ACTOR_NOT_FOUND no broadcaster in the
   *   tree, or it is restarting; ERR_CALL_TIMEOUT; ERR_RUNTIME_CLOSED.
   */
  broadcast (topic: string, event: string, payload: object, options: BroadcastOptions = {}): Promise<number> {
    if (typeof topic !== 'string' || topic.length === 0) return Promise.reject(new InvalidArgumentError(`topic must be a non-empty string, got ${describeValue(topic)}`))
    try {
      checkEventName(event)
    } catch (err) {
      return Promise.reject(err)
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      return Promise.reject(new InvalidArgumentError(`payload must be a plain object, got ${Array.isArray(payload) ? 'an array' : describeValue(payload)}`))
    }
    const o = options ?? {}
    let target: string
    try {
      target = this.#broadcaster(o.via)
    } catch (err) {
      return Promise.reject(err)
    }
    const request = { op: 'broadcast', topic, event, payload }
    return this.call(target, request, o.timeout === undefined ? {} : { timeout: o.timeout }) as Promise<number>
  }

  /**
   * Where the endpoint of a broadcaster stage listens (its port, when the spec asked for port 0).
   * @throws (rejects) as {@link broadcast}.
   */
  async endpointAddress (via?: string): Promise<EndpointAddress> {
    const target = this.#broadcaster(via)
    const address = await this.call(target, { op: 'address' }) as Omit<EndpointAddress, 'url'>
    return { ...address, url: `ws://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}${address.path}` }
  }

  /**
   * Asks every broadcaster how it is: its endpoint, and its cluster adapter (`pubsub`), which is
   * `down` whenever broadcasts may be lost (Redis unreachable, or its subscription not yet made
   * again after a reconnect); and each durable queue's writer (`queue:<producer>`, `degraded` while
   * its Redis is not connected, since pushes then fail). `ok` only when every broadcaster delivers everywhere; `degraded` when
   * some adapter is down or some broadcaster does not answer (restarting); `down` when the runtime
   * is not running or no broadcaster answers. Never rejects.
   */
  async health (options: { timeout?: number } = {}): Promise<RuntimeHealth> {
    const ids = [...this.#broadcasters]
    const answers = await Promise.all(ids.map((id) => this.call(id, { op: 'health' }, { timeout: options?.timeout ?? 2000 }).then(
      (value) => value as BroadcasterHealth,
      (err: Error) => ({ status: 'down' as const, error: `${(err as { code?: string }).code ?? err.name}: ${err.message}` }),
    )))
    const components: RuntimeHealth['components'] = {}
    ids.forEach((id, i) => { components[id] = answers[i] as RuntimeHealth['components'][string] })
    for (const writer of this.#durableWriters()) components[`queue:${writer.stage}`] = writer.health()
    return combineHealth(this.#state === 'running', components)
  }

  #broadcaster (via: string | undefined): string {
    this.#assertRunning()
    if (via !== undefined) {
      if (!this.#broadcasters.has(via)) throw new ActorNotFoundError(`no broadcaster stage named ${describeValue(via)} (broadcasters: ${[...this.#broadcasters].join(', ') || 'none'})`)
      return via
    }
    const [first, second] = this.#broadcasters
    if (first === undefined) throw new ActorNotFoundError('the tree has no broadcaster stage (module builtin:broadcaster)')
    if (second !== undefined) throw new InvalidArgumentError(`the tree has several broadcasters (${[...this.#broadcasters].join(', ')}): say which with options.via`)
    return first
  }

  /** Events pushed to `stage` and not yet taken by a consumer. */
  pending (stage: string): number {
    return this.#pushChannel(stage).pending
  }

  /** Live figures of every pipeline stage: counters, buffer depth, pending demand, losses. */
  stages (): StageInfo[] {
    return this.#wiring.info()
  }

  /**
   * What the runtime has measured since it started: events pushed, dispatched to the fan-out,
   * delivered to sockets, dropped (by reason), lost (by stage), restarts (by child), push → socket
   * write latency, and per stage its live buffer, queue and demand and its push → stage latency.
   * Counters read from shared memory are live; what threads measure arrives about every second.
   * Plain data: safe to JSON.stringify.
   */
  metrics (): RuntimeMetrics {
    let pushed = this.#ids.issued
    for (const channel of this.#pushes.values()) if (channel instanceof StreamWriter) pushed += channel.accepted
    return this.#metrics.snapshot(this.#wiring.info(), pushed)
  }

  /**
   * The runtime's Prometheus metrics, in a registry of its own (prom-client's global `register` is
   * left alone). Serve it yourself (`await runtime.metricsRegistry.metrics()`) or merge it into
   * yours: `Registry.merge([register, runtime.metricsRegistry])`. A broadcaster's endpoint serves
   * the same text at `/metrics`.
   */
  get metricsRegistry (): PrometheusRegistry {
    return this.#prometheus
  }

  #pushChannel (stage: string): PushChannel | StreamWriter {
    if (this.#state !== 'running') throw new RuntimeClosedError(`the runtime is ${this.#state}`)
    const channel = this.#pushes.get(stage)
    if (channel === undefined) throw new ActorNotFoundError(`no producer stage named "${stage}"`)
    return channel
  }

  /** @internal */
  async startTree (): Promise<void> {
    try {
      await this.#startWriters()
      await this.#root.start()
    } catch (err) {
      // Nothing may outlive a failed start: a durable queue's Redis connection kept the process alive.
      await Promise.all([...this.#pushes.values()].map((channel) => channel.close()))
      throw err
    }
    this.#metricsTimer = setInterval(() => this.#tick(), METRICS_MS)
    // Metrics must never keep the host's process alive.
    this.#metricsTimer.unref()
    void this.#expose()
  }

  /** The writers of the durable queues (their producers' push channels). */
  #durableWriters (): StreamWriter[] {
    return [...this.#pushes.values()].filter((c): c is StreamWriter => c instanceof StreamWriter)
  }

  /** Connects the durable queues' writers (each waits for Redis at most its connectTimeoutMs). */
  async #startWriters (): Promise<void> {
    const writers = this.#writers.splice(0)
    await Promise.all(writers.map((w) => w.start()))
  }

  /** `running` until `close()`/`destroy()` (then `closing`, `closed`), or `failed` after a `fatal` event. */
  get state (): State { return this.#state }

  /**
   * Sends `request` to the actor registered as `name` and resolves with its
   * reply (the module's `handleCall`). `{ $: 'stats' }` and `{ $: 'ping' }`
   * are answered by every actor.
   * @throws ERR_ACTOR_NOT_FOUND (no such actor running, e.g. during its restart), ERR_CALL_TIMEOUT,
   *   ERR_ACTOR_GONE (it exited before replying), ERR_NOT_IMPLEMENTED, or the handler's own error.
   */
  call (name: string, request: unknown, options: CallOptions = {}): Promise<unknown> {
    const timeout = (options ?? {}).timeout ?? 5000
    if (!Number.isInteger(timeout) || timeout <= 0 || timeout > MAX_TIMER_MS) {
      return Promise.reject(new InvalidArgumentError(`options.timeout must be an integer from 1 to ${MAX_TIMER_MS} (ms), got ${JSON.stringify(timeout)}`))
    }
    if (this.#state !== 'running') return Promise.reject(new RuntimeClosedError(`the runtime is ${this.#state}`))
    const actor = this.#registry.lookup(name)
    if (actor === undefined) return Promise.reject(new ActorNotFoundError(`no actor named "${name}" is running`))
    return actor.call(request, timeout, actor.stage(name) !== undefined ? name : undefined)
  }

  /**
   * The children of the root supervisor, or of the supervisor `supervisorId`,
   * with their state, restart counts and (for workers) thread id and latest stats.
   * @throws ERR_ACTOR_NOT_FOUND when there is no such supervisor.
   */
  whichChildren (supervisorId?: string): ChildInfo[] {
    return this.#supervisor(supervisorId).whichChildren()
  }

  /**
   * Adds a child to a (dynamic) supervisor and starts it. The spec is
   * validated like a tree spec's child; its id must be unique in the runtime.
   * @throws ERR_SPEC_INVALID, ERR_DUPLICATE_ID, ERR_ACTOR_NOT_FOUND, ERR_INVALID_ARGUMENT (maxChildren reached), ERR_ACTOR_INIT
   */
  async startChild (supervisorId: string, childSpec: unknown, options: StartOptions = {}): Promise<void> {
    this.#assertRunning()
    const supervisor = this.#supervisor(supervisorId)
    const spec = parseChildSpec(childSpec, { baseDir: options.baseDir ?? this.#baseDir, takenIds: this.#root.ids(), stages: this.#wiring.specs() })
    this.#writers.push(...this.#addStages([spec]))
    await this.#startWriters()
    await supervisor.startChild(spec)
  }

  /**
   * Stops a child of a (dynamic) supervisor and removes it.
   * @throws ERR_ACTOR_NOT_FOUND
   */
  async terminateChild (supervisorId: string, childId: string): Promise<void> {
    this.#assertRunning()
    const supervisor = this.#supervisor(supervisorId)
    const stageIds = supervisor.stageIdsOf(childId)
    await supervisor.terminateChild(childId)
    this.#wiring.removeStages(stageIds)
    for (const id of stageIds) {
      this.#broadcasters.delete(id)
      void this.#pushes.get(id)?.close()
      this.#pushes.delete(id)
    }
  }

  /**
   * Stops the tree gracefully: children in reverse start order, each within
   * its shutdown timeout. Past `options.timeout` whatever is left is
   * terminated. Afterwards no thread, port or timer of the runtime remains.
   */
  close (options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options)
    return this.#closing
  }

  async #close (options: CloseOptions): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closing'
    clearInterval(this.#metricsTimer)
    // Durable writers fail what they had not sent and wait (a second at most) for Redis's answers.
    await Promise.all([...this.#pushes.values()].map((channel) => channel.close()))
    const timeout = options.timeout ?? 30_000
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, timeout, 'late') })
    const outcome = await Promise.race([this.#root.stop(), late])
    clearTimeout(timer)
    if (outcome === 'late') await this.#root.destroy()
    this.#state = 'closed'
  }

  /** Terminates every thread at once, without running `terminate` callbacks. */
  async destroy (): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closing'
    clearInterval(this.#metricsTimer)
    for (const channel of this.#pushes.values()) void channel.close()
    await this.#root.destroy()
    this.#state = 'closed'
  }

  #supervisor (id: string | undefined): Supervisor {
    if (id === undefined || id === ROOT) return this.#root
    const found = this.#root.findSupervisor(id)
    if (found === undefined) throw new ActorNotFoundError(`no supervisor named "${id}" is running`)
    return found
  }

  #assertRunning (): void {
    if (this.#state !== 'running') throw new RuntimeClosedError(`the runtime is ${this.#state}`)
  }
}

/**
 * Validates a tree spec (an object, or the path of a JSON file) and starts
 * it: children start in order, each once the previous one's `init` is done.
 * @throws ERR_SPEC_INVALID for a bad spec (naming the path and the value), or the
 *   start error of the first child that fails (ERR_ACTOR_INIT); children already started are stopped first.
 */
export async function start (spec: unknown, options: StartOptions = {}): Promise<Runtime> {
  const baseDir = options.baseDir ?? process.cwd()
  const tree = typeof spec === 'string' ? loadTreeSpecFile(spec) : parseTreeSpec(spec, { baseDir })
  const runtime = new Runtime(tree, baseDir)
  await runtime.startTree()
  return runtime
}

function describeValue (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  return value === null ? 'null' : typeof value
}
