/**
 * One stage at run time, in whatever thread hosts it: its module and state,
 * its producer side (dispatcher, buffer, demand) and its consumer side (one
 * {@link ConsumerDemand} and one queue per upstream subscription).
 *
 * ```
 *   upstream links ──events──► receive ─► queue ─► handleEvents ─► dispatch ──events──► downstream links
 *                  ◄───ask────  (ConsumerDemand: chunks, re-asks)   (Dispatcher) ◄──ask────
 *   runtime.push ──────────────► ingest ──────────────────────────────► dispatch / buffer
 * ```
 *
 * The demand contract (GenStage's, see lib/stage/dispatcher/dispatcher.ts):
 * - a consumer asks `maxDemand` when it subscribes, then re-asks after each
 *   handled chunk once its credit is at or below `minDemand`;
 * - a producer sends a subscription at most what it asked for and has not
 *   received; events nobody asked for wait in the bounded buffer;
 * - a producer-consumer handles received events only while it has
 *   downstream demand, so back-pressure travels up the whole chain; what it
 *   emits beyond that demand waits in its buffer.
 *
 * Links (a MessagePort to another thread, or a direct call through the
 * thread's {@link Scheduler}) deliver into `receive`/`ask`; the stage never
 * knows which. Callbacks run one at a time: while an async callback is in
 * flight, arrivals are only counted and queued.
 * @internal
 */
import type { ExitReason } from '../actor/behaviour.js'
import { InvalidArgumentError, NotImplementedError, describeThrown } from '../errors.js'
import type {
  Consume, ConsumerModule, Emit, From, ProducerConsumerModule, ProducerModule, StageContext, StageDropReason, StageKind, StageModule,
} from './behaviour.js'
import type { TaskRunner } from './tasks.js'
import { EventBuffer } from './buffer.js'
import type { BufferKeep } from './buffer.js'
import type { ConsumerDemand } from './consumer-demand.js'
import { SLOT, StageCounters } from './counters.js'
import type { Dispatcher, Outbox, SubscribeOptions } from './dispatcher/dispatcher.js'
import type { DropReason } from '../protocol.js'
import type { Envelope } from './envelope.js'
import { now } from './envelope.js'

/** Where a stage records push → stage latency (a LatencyRecorder of lib/metrics/latency.ts). */
export interface LatencySink {
  /** `count` events took `ms` from their push. */
  record (ms: number, count: number): void
}

/**
 * At most this many latency samples per batch. A batch of n > 16 events is cut into 16 runs of
 * consecutive events; the first of each run is recorded with the run's length as its weight, so
 * the histogram still counts every event and small batches (a quiet stream) are recorded whole.
 * Events of one run were pushed within a few µs of each other and arrive together, so the error
 * is small next to the latencies measured. Measured (2-vCPU EPYC dev VM, Node 20, batches of 500,
 * wasm recorder): every event 21–32 ns per event and stage, which on the fused pipeline bench
 * (three stages in one thread, ~25 M events/s, ~40 ns per event in all) would be more than half
 * the pipeline's cost again; 16 samples per batch 0.8–1.2 ns per event and stage.
 */
const SAMPLES_PER_BATCH = 16

/** How a consumer reacts when its producer goes away (GenStage's `cancel` option). */
export type CancelMode = 'permanent' | 'transient' | 'temporary'

/** A subscription as its producer sees it. */
export interface Downstream {
  /** Id of the consuming stage. */
  readonly consumer: string
  /** Hands a batch to the consumer (a port message or a scheduled direct call). */
  send (events: readonly Envelope[], count: number): void
}

/** A subscription as its consumer sees it. */
export interface Upstream {
  /** Id of the producing stage. */
  readonly producer: string
  readonly cancel: CancelMode
  readonly demand: ConsumerDemand
  /** Asks the producer for more (a port message or a scheduled direct call). */
  ask (count: number): void
}

/** What a stage needs to run, beyond its module. */
export interface StageOptions {
  id: string
  kind: StageKind
  /** Producer side only. */
  dispatcher?: (outbox: Outbox<Downstream, Envelope>) => Dispatcher<Downstream, Envelope>
  bufferSize?: number
  bufferKeep?: BufferKeep
  counters?: StageCounters
  /** Builds envelopes for `ctx.envelope`. */
  envelope: StageContext['envelope']
  /** Called with anything a callback throws or rejects with: the hosting thread's crash path. */
  onCrash: (err: unknown) => void
  /** Called when events are dropped (for telemetry): by the buffer, or tasks that failed after their retries. */
  onDrop?: (count: number, reason: DropReason) => void
  /** consumer_supervisor only: where tasks run, and how often a failed task is retried. */
  tasks?: { runner: TaskRunner, maxRetries: number }
  /** Producer side: hold events until this many consumers have subscribed (broadcast; default 0). */
  awaitSubscribers?: number
  /** consumer_supervisor with subscribers (its task results go to them): see StageBoot.holdTaskSlots. */
  holdTaskSlots?: boolean
  /** Records push → stage latency: as pushed events arrive (producers), as events reach handleEvents or a task. */
  latency?: LatencySink
}

interface UpstreamState {
  link: Upstream
  from: From
  /** Received batches not yet handled, oldest first; `offset` is how far into the first one we are. */
  batches: Envelope[][]
  offset: number
  queued: number
  /** The producer went away: queued events are still handled, nothing more is asked. */
  gone: boolean
}

/** @internal */
export class Stage {
  readonly id: string
  readonly kind: StageKind
  readonly counters: StageCounters
  readonly #module: StageModule
  readonly #ctx: StageContext
  readonly #onCrash: (err: unknown) => void
  readonly #onDrop: ((count: number, reason: DropReason) => void) | undefined
  readonly #tasks: { runner: TaskRunner, maxRetries: number } | undefined
  readonly #holdTaskSlots: boolean
  /** Task slots whose results wait in the buffer: their upstream credit goes back once it is empty. */
  #heldSlots: UpstreamState[] = []
  readonly #latency: LatencySink | undefined
  readonly #dispatcher: Dispatcher<Downstream, Envelope> | undefined
  readonly #buffer: EventBuffer<Envelope> | undefined
  readonly #ups: UpstreamState[] = []
  #state: unknown
  /** Downstream demand not yet met: what handleDemand may produce, or how long a producer-consumer may keep handling. */
  #demand = 0
  /** An async callback is in flight. */
  #busy = false
  /** Subscriptions still awaited before a broadcast producer starts (see #releaseGate). */
  #gate: number
  #stopped = false

  constructor (module: StageModule, options: StageOptions) {
    this.id = options.id
    this.kind = options.kind
    this.#module = module
    this.#onCrash = options.onCrash
    this.#onDrop = options.onDrop
    this.#tasks = options.tasks
    this.#holdTaskSlots = options.holdTaskSlots === true
    this.#latency = options.latency
    this.#gate = options.awaitSubscribers ?? 0
    if (this.kind === 'consumer_supervisor' && this.#tasks === undefined) throw new TypeError(`stage "${this.id}": a consumer_supervisor needs a task runner`)
    this.counters = options.counters ?? new StageCounters()
    const emit = (events: Envelope[]): void => { this.#emit(events, events.length) }
    const dropped = (count: number, reason: StageDropReason): void => {
      if (Number.isSafeInteger(count) && count > 0) this.#onDrop?.(count, reason)
    }
    this.#ctx = { id: options.id, envelope: options.envelope, dropped, ...(this.kind === 'consumer' ? {} : { emit }) }
    if (this.kind !== 'consumer') {
      if (options.dispatcher === undefined) throw new TypeError(`stage "${this.id}": a ${this.kind} needs a dispatcher`)
      const outbox: Outbox<Downstream, Envelope> = {
        send: (down, events, count) => { down.send(events, count) },
        // Re-credited demand (broadcast selectors) is handled like an ask, on a later turn.
        demand: (count) => { queueMicrotask(() => this.#addDemand(count)) },
        info: () => {},
      }
      this.#dispatcher = options.dispatcher(outbox)
      this.#buffer = new EventBuffer<Envelope>({ bufferSize: options.bufferSize, bufferKeep: options.bufferKeep })
    }
  }

  /** The stage's context, as its callbacks see it. */
  get context (): StageContext { return this.#ctx }

  /** Runs the module's `init`. */
  async init (args: unknown): Promise<void> {
    this.#state = await this.#module.init?.(args, this.#ctx)
  }

  /**
   * Runs the module's `handleCall`. Events it returns (producers and
   * producer-consumers) are dispatched like a callback's.
   * @throws ERR_NOT_IMPLEMENTED when the module has no handleCall; whatever it throws.
   */
  async call (request: unknown): Promise<unknown> {
    const handleCall = this.#module.handleCall
    if (handleCall === undefined) throw new NotImplementedError(`stage "${this.id}" has no handleCall`)
    const result = await handleCall.call(this.#module, request, this.#state, this.#ctx)
    if (typeof result !== 'object' || result === null || !('state' in result)) {
      throw new InvalidArgumentError(`stage "${this.id}": handleCall must return { reply, state }, got ${describeThrown(result)}`)
    }
    this.#state = result.state
    if (result.events !== undefined) this.#emit(result.events, result.events.length)
    return result.reply
  }

  /** Reports a failure found outside a callback (a broken contract on a link): the host's crash path. */
  fail (err: unknown): void {
    this.#onCrash(err)
  }

  /** Stops handling anything, without `terminate` (the stage's host crashed). */
  halt (): void {
    this.#stopped = true
    void this.#tasks?.runner.close()
  }

  /** Runs the module's `terminate`; the stage handles nothing afterwards. */
  async terminate (reason: ExitReason): Promise<void> {
    this.#stopped = true
    try {
      await this.#module.terminate?.(reason, this.#state)
    } finally {
      await this.#tasks?.runner.close()
    }
  }

  // ── producer side ──────────────────────────────────────────────────────

  /** A consumer subscribed. */
  subscribe (down: Downstream, options: SubscribeOptions<Envelope> = {}): void {
    const demand = this.#dispatcherOf().subscribe(down, options)
    if (this.#gate > 0 && --this.#gate === 0) this.#releaseGate()
    this.#addDemand(demand)
  }

  /** One of the subscribers this producer waits for will not come (it went down first). */
  unawait (): void {
    if (this.#gate > 0 && --this.#gate === 0) this.#releaseGate()
  }

  /** A consumer asks for `count` more events. */
  ask (down: Downstream, count: number): void {
    this.#addDemand(this.#dispatcherOf().ask(count, down))
  }

  /** A consumer went away. */
  unsubscribe (down: Downstream): void {
    this.#addDemand(this.#dispatcherOf().cancel(down))
  }

  /** Events pushed by the host app (`runtime.push`): dispatched against the demand there is, the rest buffered. */
  ingest (events: Envelope[], count: number): void {
    if (this.#latency !== undefined) recordLatency(this.#latency, events, count)
    this.#emit(events, count)
    // Counted after the buffer is updated: the main thread reads `handled` and `buffered` without a
    // lock, and must never see an event in neither (it would report a backlog smaller than it is).
    this.counters.f[SLOT.handled] += count
  }

  /** Events emitted outside a demand callback (pushes, ctx.emit, handleCall): they meet the demand there is. */
  #emit (events: readonly Envelope[], count: number): void {
    if (count === 0) return
    if (this.#gate > 0) {
      this.#keep(events, count)
      return
    }
    const sent = this.#dispatch(events, count)
    this.#demand = Math.max(0, this.#demand - sent)
    this.counters.f[SLOT.demand] = this.#demand
  }

  /**
   * A broadcast producer holds its events until the subscriptions declared in the spec are all
   * there (GenStage's `demand: :accumulate`), so that no declared consumer misses the start of
   * the stream. The gate opens for good once they have subscribed.
   */
  #releaseGate (): void {
    queueMicrotask(() => this.#serve())
  }

  #dispatcherOf (): Dispatcher<Downstream, Envelope> {
    if (this.#dispatcher === undefined) throw new TypeError(`stage "${this.id}" is a consumer: nothing can subscribe to it`)
    return this.#dispatcher
  }

  #addDemand (count: number): void {
    if (count > 0) {
      this.#demand += count
      this.counters.f[SLOT.demand] = this.#demand
    }
    this.#serve()
  }

  /** Meets demand: from the buffer first, then handleDemand (producers) or queued events (producer-consumers). */
  #serve (): void {
    if (this.#busy || this.#stopped || this.#gate > 0) return
    const buffer = this.#buffer
    if (buffer !== undefined && buffer.length > 0 && this.#demand > 0) {
      const events = buffer.take(this.#demand)
      const leftovers = this.#dispatcherOf().dispatch(events, events.length)
      const sent = events.length - leftovers.length
      const f = this.counters.f
      f[SLOT.emitted] += sent
      this.#demand -= sent
      f[SLOT.demand] = this.#demand
      if (leftovers.length > 0) {
        // The demand we counted is not there yet (a subscriber that has not asked, demand owed by
        // a cancelled one): the events go back to the front, in order, and wait for real asks.
        buffer.unshift(leftovers)
        f[SLOT.buffered] = buffer.length
        return
      }
      f[SLOT.buffered] = buffer.length
    }
    if (this.#heldSlots.length > 0 && (buffer?.length ?? 0) === 0) this.#releaseSlots()
    if (this.#demand <= 0) return
    if (this.kind === 'producer') {
      const handleDemand = (this.#module as ProducerModule).handleDemand
      if (handleDemand === undefined) return
      const demand = this.#demand
      this.#demand = 0
      this.counters.f[SLOT.demand] = 0
      this.counters.f[SLOT.callbacks]++
      let result: Emit<unknown> | Promise<Emit<unknown>>
      try {
        result = handleDemand.call(this.#module, demand, this.#state, this.#ctx)
      } catch (err) {
        this.#onCrash(err)
        return
      }
      if (isPromise(result)) {
        this.#busy = true
        result.then((r) => { this.#busy = false; this.#afterEmit(r) }, this.#onCrash)
      } else {
        this.#afterEmit(result)
      }
    } else if (this.kind === 'producer_consumer') {
      this.#pump()
    }
  }

  #afterEmit (result: Emit<unknown>): void {
    this.#state = result.state
    const events = result.events
    // handleDemand was given the whole demand, so its events need no further accounting here.
    if (events !== undefined && events.length > 0) this.#dispatch(events, events.length)
    this.#serve()
  }


  /** Hands events to the dispatcher and buffers the leftovers; returns how many were sent. */
  #dispatch (events: readonly Envelope[], count: number): number {
    const leftovers = this.#dispatcherOf().dispatch(events, count)
    const sent = count - leftovers.length
    this.counters.f[SLOT.emitted] += sent
    if (leftovers.length > 0) this.#keep(leftovers, leftovers.length)
    return sent
  }

  /** Buffers events nobody has demand for, by the buffer's keep policy; counts and reports drops. */
  #keep (events: readonly Envelope[], count: number): void {
    const f = this.counters.f
    const buffer = this.#buffer as EventBuffer<Envelope>
    const dropped = buffer.push(events, count)
    f[SLOT.buffered] = buffer.length
    if (dropped > 0) {
      f[SLOT.dropped] += dropped
      this.#onDrop?.(dropped, 'buffer_full')
    }
  }

  // ── consumer side ──────────────────────────────────────────────────────

  /** Subscribes to a producer through `link`: asks maxDemand. */
  addUpstream (link: Upstream): void {
    // Subscriptions whose producer went away and whose events are all handled can go now.
    for (let i = this.#ups.length - 1; i >= 0; i--) {
      const up = this.#ups[i] as UpstreamState
      if (up.gone && up.queued === 0) this.#ups.splice(i, 1)
    }
    this.#ups.push({ link, from: { producer: link.producer }, batches: [], offset: 0, queued: 0, gone: false })
    link.ask(link.demand.start())
  }

  /**
   * The producer of `link` went away. Events it delivered, and those still
   * in flight on the link, are handled; nothing more is asked.
   */
  removeUpstream (link: Upstream): void {
    const up = this.#ups.find((u) => u.link === link)
    if (up !== undefined) up.gone = true
  }


  /**
   * A batch arrived from `link`.
   * @throws DemandExceededError when the producer sent more than was asked (a broken contract).
   */
  receive (link: Upstream, events: Envelope[], count: number): void {
    const up = this.#ups.find((u) => u.link === link)
    if (up === undefined) return // a late batch of a subscription already forgotten
    link.demand.receive(count)
    if (count === 0) return
    if (this.kind === 'consumer_supervisor') {
      if (this.#latency !== undefined) recordLatency(this.#latency, events, count)
      // One task per event, started now: demand already bounds them to maxDemand in flight.
      for (let i = 0; i < count; i++) void this.#task(up, events[i] as Envelope)
      return
    }
    up.batches.push(count === events.length ? events : events.slice(0, count))
    up.queued += count
    this.counters.f[SLOT.queued] += count
    this.#pump()
  }

  /** Hands queued events to handleEvents, chunk by chunk, while allowed. */
  #pump (): void {
    const f = this.counters.f
    while (!this.#busy && !this.#stopped) {
      if (this.kind === 'producer_consumer' && this.#demand <= 0) return
      const up = this.#nextUpstream()
      if (up === undefined) return
      const chunk = takeChunk(up, up.link.demand.chunkSize)
      const count = chunk.length
      up.queued -= count
      f[SLOT.queued] -= count
      f[SLOT.callbacks]++
      if (this.#latency !== undefined) recordLatency(this.#latency, chunk, count)
      let result: Emit<unknown> | Consume<unknown> | void | Promise<Emit<unknown> | Consume<unknown> | void>
      try {
        result = (this.#module as ProducerConsumerModule | ConsumerModule).handleEvents(chunk, up.from, this.#state, this.#ctx)
      } catch (err) {
        this.#onCrash(err)
        return
      }
      if (isPromise(result)) {
        this.#busy = true
        result.then((r) => {
          this.#busy = false
          this.#afterChunk(up, count, r)
          this.#pump()
          if (this.kind === 'producer_consumer') this.#serve()
        }, this.#onCrash)
        return
      }
      this.#afterChunk(up, count, result)
    }
  }

  #afterChunk (up: UpstreamState, count: number, result: Emit<unknown> | Consume<unknown> | void): void {
    // Counted once handleEvents has returned: a chunk whose callback throws (or whose thread dies
    // mid-callback) is received and not handled, so it is counted as lost.
    this.counters.f[SLOT.handled] += count
    if (result !== undefined && result !== null) {
      this.#state = result.state
      const events = (result as Emit<unknown>).events
      if (this.kind === 'producer_consumer') {
        const n = events?.length ?? 0
        this.#demand = Math.max(0, this.#demand - n)
        this.counters.f[SLOT.demand] = this.#demand
        if (events !== undefined && n > 0) this.#dispatch(events, n)
      }
    }
    const ask = up.link.demand.processed(count)
    if (ask > 0 && !up.gone) up.link.ask(ask)
  }

  /** Runs one task, retrying it up to maxRetries times in the same slot; then frees the slot. */
  async #task (up: UpstreamState, event: Envelope): Promise<void> {
    const { runner, maxRetries } = this.#tasks as { runner: TaskRunner, maxRetries: number }
    const f = this.counters.f
    f[SLOT.running]++
    let result: unknown
    let ok = false
    for (let attempt = 0; attempt <= maxRetries && !this.#stopped; attempt++) {
      f[SLOT.callbacks]++
      try {
        result = await runner.run(event)
        ok = true
        break
      } catch {
        // Retried below; a task's failure is the task's, not the stage's.
      }
    }
    if (this.#stopped) return
    f[SLOT.running]--
    f[SLOT.handled]++
    if (!ok) {
      f[SLOT.failed]++
      this.#onDrop?.(1, 'task_failed')
    } else if (result !== undefined && result !== null && this.#holdTaskSlots) {
      // Results are events only for the stages the spec subscribes to it; with none, a task's
      // return value is just its own (buffered, it would be counted lost at shutdown).
      const out = Array.isArray(result) ? result as Envelope[] : [result as Envelope]
      if (out.length > 0) this.#dispatch(out, out.length)
    }
    // Results nobody has asked for yet: the slot stays taken until they leave (see #serve), so the
    // tasks go no faster than the stages downstream, and the buffer does not overflow.
    if (this.#holdTaskSlots && (this.#buffer?.length ?? 0) > 0) {
      this.#heldSlots.push(up)
      return
    }
    this.#freeSlot(up)
  }

  /** Gives a finished task's slot back: its event counts as processed, and demand is re-asked as due. */
  #freeSlot (up: UpstreamState): void {
    const ask = up.link.demand.processed(1)
    if (ask > 0 && !up.gone) up.link.ask(ask)
  }

  #releaseSlots (): void {
    const held = this.#heldSlots
    this.#heldSlots = []
    for (const up of held) this.#freeSlot(up)
  }

  #nextUpstream (): UpstreamState | undefined {
    const ups = this.#ups
    for (let i = 0; i < ups.length; i++) {
      const up = ups[i] as UpstreamState
      if (up.queued > 0) {
        // Rotate so that one busy upstream cannot starve the others.
        if (ups.length > 1) { ups.splice(i, 1); ups.push(up) }
        return up
      }
    }
    return undefined
  }
}

/** Records the latency of `count` events from their push to now: one clock read per batch, at most 16 samples (see SAMPLES_PER_BATCH). @internal */
export function recordLatency (sink: LatencySink, events: readonly Envelope[], count: number): void {
  const t = now()
  if (count <= SAMPLES_PER_BATCH) {
    for (let i = 0; i < count; i++) sink.record(t - (events[i] as Envelope).ts, 1)
    return
  }
  let start = 0
  for (let j = 1; j <= SAMPLES_PER_BATCH; j++) {
    const end = Math.floor(j * count / SAMPLES_PER_BATCH)
    sink.record(t - (events[start] as Envelope).ts, end - start)
    start = end
  }
}

function takeChunk (up: UpstreamState, size: number): Envelope[] {
  const first = up.batches[0] as Envelope[]
  const left = first.length - up.offset
  if (up.offset === 0 && left <= size) {
    up.batches.shift()
    return first
  }
  if (left <= size) {
    up.batches.shift()
    const chunk = first.slice(up.offset)
    up.offset = 0
    return chunk
  }
  const chunk = first.slice(up.offset, up.offset + size)
  up.offset += size
  return chunk
}

function isPromise<T> (value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}
