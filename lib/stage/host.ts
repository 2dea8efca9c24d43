/**
 * The stages that share one thread, and their links.
 *
 * A StageHost builds its stages from their boot descriptions, runs their
 * `init`s in order, and carries out what the main thread's wiring tells it:
 * link two of its own stages directly, take one end of a cross-thread
 * subscription port, learn that the other side of a subscription went away,
 * or take the push port of one of its producers. It knows nothing of
 * worker threads: workers/actor.ts hosts one in a worker; the same class can
 * host stages in any thread.
 * @internal
 */
import type { MessagePort } from 'node:worker_threads'
import { loadActorModule } from '../actor/behaviour.js'
import type { ExitReason } from '../actor/behaviour.js'
import { InvalidArgumentError, ProducerDownError, ProtocolError, describeThrown } from '../errors.js'
import type { DropReason, ExitReasonWire, IngestMessage, LinkOptionsWire, StageBoot, StageControl } from '../protocol.js'
import { checkStageModule } from './behaviour.js'
import type { ConsumerSupervisorModule, StageModule } from './behaviour.js'
import { InlineRunner, PiscinaRunner } from './tasks.js'
import type { TaskRunner } from './tasks.js'
import type { BatchCodec } from './codec/codec.js'
import { createCodec } from './codec/create.js'
import { StageCounters } from './counters.js'
import { BroadcastDispatcher } from './dispatcher/broadcast.js'
import { DemandDispatcher } from './dispatcher/demand.js'
import type { Dispatcher, Outbox, Selector, SubscribeOptions } from './dispatcher/dispatcher.js'
import { PartitionDispatcher } from './dispatcher/partition.js'
import type { Envelope } from './envelope.js'
import { IdSource } from './ids.js'
import { LocalLink, PortDownstream, PortUpstream } from './links.js'
import type { LinkOptions } from './links.js'
import { Scheduler } from './scheduler.js'
import { Stage } from './stage.js'
import type { Downstream, Upstream } from './stage.js'

/** What a host needs from the thread around it. */
export interface HostEnvironment {
  /** Ends the thread with this failure (a crash, or a permanent subscription whose producer went away). */
  fail (error: unknown): void
  /** Telemetry: a stage dropped `count` events (buffer overflow, or tasks failed after their retries). */
  dropped (stage: string, count: number, reason: DropReason): void
  /** The consumer side of a subscription must stop: reason `normal`/`shutdown` is a clean stop. */
  stop (reason: ExitReason): void
}

interface LinkRecord {
  down?: Downstream & { close?: () => void }
  up?: Upstream & { close?: () => void }
  consumer?: Stage
  producer?: Stage
}

/** @internal */
export class StageHost {
  readonly #env: HostEnvironment
  readonly #scheduler: Scheduler
  readonly #stages = new Map<string, Stage>()
  readonly #order: Stage[] = []
  readonly #links = new Map<number, LinkRecord>()
  readonly #ingest = new Map<string, { port: MessagePort, codec: BatchCodec }>()
  readonly #codec: string
  readonly #ids: IdSource
  /** Wiring instructions run one after another (see {@link control}). */
  #controls: Promise<void> = Promise.resolve()

  constructor (env: HostEnvironment, options: { codec: string, idSeed: number }) {
    this.#env = env
    this.#codec = options.codec
    this.#scheduler = new Scheduler((err) => env.fail(err))
    this.#ids = new IdSource(options.idSeed)
  }

  /** Loads the stages' modules and builds them; then {@link init} runs their `init`s. */
  async load (boots: StageBoot[]): Promise<void> {
    // Imported here, not at the top: hdr-histogram-js costs a thread ~25 ms to load and ~25 ms to
    // compile its wasm (measured in fresh workers), which threads that host no stage never pay.
    const { threadMetrics } = await import('../metrics/thread-metrics.js')
    for (const boot of boots) {
      const module = checkStageModule(boot.kind, await loadActorModule(boot.module) as Record<string, unknown>, boot.module)
      if (boot.tasks?.runner === 'piscina' && typeof (await import(boot.module) as { run?: unknown }).run !== 'function') {
        throw new InvalidArgumentError(`stage "${boot.id}": tasks.runner "piscina" calls the module's named export run; ${boot.module} has no \`export function run\``)
      }
      const dispatcher = boot.kind === 'consumer' ? undefined : await dispatcherFactory(boot)
      const ids = this.#ids
      const stage = new Stage(module, {
        id: boot.id,
        kind: boot.kind,
        ...(dispatcher === undefined ? {} : { dispatcher }),
        bufferSize: boot.bufferSize,
        bufferKeep: boot.bufferKeep,
        counters: new StageCounters(boot.counters),
        envelope: (payload, meta) => ids.envelope(payload, meta),
        onCrash: (err) => this.#env.fail(err),
        onDrop: (count, reason) => this.#env.dropped(boot.id, count, reason),
        latency: threadMetrics.stage(boot.id),
        ...(boot.awaitSubscribers !== undefined ? { awaitSubscribers: boot.awaitSubscribers } : {}),
        ...(boot.holdTaskSlots === true ? { holdTaskSlots: true } : {}),
        ...(boot.tasks !== undefined ? { tasks: { runner: taskRunner(boot, module), maxRetries: boot.tasks.maxRetries } } : {}),
      })
      this.#stages.set(boot.id, stage)
      this.#order.push(stage)
    }
  }

  /** Runs each stage's `init`, in order. */
  async init (boots: StageBoot[]): Promise<void> {
    for (const boot of boots) await this.#stage(boot.id).init(boot.args)
  }

  /** Runs each stage's `terminate`, last first. */
  async terminate (reason: ExitReason): Promise<void> {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      try {
        await (this.#order[i] as Stage).terminate(reason)
      } catch {
        // Best effort, as for actors: the thread is going away either way.
      }
    }
  }

  /**
   * Halts every stage and closes every port, without `terminate`: for a
   * host that crashed in a thread that lives on (stages placed in the main
   * thread). A worker thread just exits instead.
   */
  close (): void {
    this.#scheduler.stop()
    for (const stage of this.#order) stage.halt()
    for (const record of this.#links.values()) {
      record.down?.close?.()
      record.up?.close?.()
    }
    this.#links.clear()
    for (const { port } of this.#ingest.values()) port.close()
    this.#ingest.clear()
  }

  /**
   * Carries out one wiring instruction from the main thread, in arrival order: a link may need to
   * import a selector or key function first, and the news that its consumer went away must not
   * overtake it (a dead subscription left in a broadcast dispatcher would hold the others at zero).
   */
  control (message: StageControl): Promise<void> {
    const run = this.#controls.then(() => this.#control(message))
    this.#controls = run.catch(() => {})
    return run
  }

  async #control (message: StageControl): Promise<void> {
    switch (message.type) {
      case 'link': await this.#link(message); break
      case 'down': this.#down(message.ref, message.reason); break
      case 'ingest': this.#takeIngest(message.stage, message.port); break
      case 'unawait': this.#stage(message.stage).unawait(); break
      default: throw new ProtocolError(`unknown stage control message ${JSON.stringify(message)}`)
    }
  }

  /** Answers `runtime.call(stageId, request)` with the stage module's `handleCall`. */
  call (stageId: string, request: unknown): Promise<unknown> {
    return this.#stage(stageId).call(request)
  }


  #stage (id: string): Stage {
    const stage = this.#stages.get(id)
    if (stage === undefined) throw new ProtocolError(`no stage "${id}" in this thread`)
    return stage
  }

  async #link (message: Extract<StageControl, { type: 'link' }>): Promise<void> {
    const { ref, producer, consumer, options } = message
    const linkOptions: LinkOptions = { maxDemand: options.maxDemand, minDemand: options.minDemand, cancel: options.cancel }
    const subscribe = await subscribeOptions(options)
    if (message.side === 'both') {
      const link = new LocalLink(this.#stage(producer), this.#stage(consumer), linkOptions, this.#scheduler)
      this.#links.set(ref, { down: link, up: link, producer: link.from, consumer: link.to })
      link.from.subscribe(link, subscribe)
      link.to.addUpstream(link)
    } else if (message.side === 'producer') {
      const stage = this.#stage(producer)
      const down = new PortDownstream(consumer, message.port, createCodec(this.#codec), new StageCounters(message.peerCounters), stage)
      this.#links.set(ref, { down, producer: stage })
      stage.subscribe(down, subscribe)
    } else {
      const stage = this.#stage(consumer)
      const up = new PortUpstream(producer, message.port, createCodec(this.#codec), linkOptions, stage)
      this.#links.set(ref, { up, consumer: stage })
      stage.addUpstream(up)
    }
  }

  /** The other side of subscription `ref` went away (its thread exited with `reason`). */
  #down (ref: number, wire: ExitReasonWire): void {
    const record = this.#links.get(ref)
    if (record === undefined) return
    this.#links.delete(ref)
    if (record.producer !== undefined && record.down !== undefined && record.consumer === undefined) {
      // We are the producer: forget the subscription; the consumer's thread is gone.
      record.producer.unsubscribe(record.down)
      record.down.close?.()
      return
    }
    if (record.consumer !== undefined && record.up !== undefined) {
      const up = record.up
      record.consumer.removeUpstream(up)
      const abnormal = wire.kind === 'error'
      const why = wire.kind === 'error' ? wire.error.message : wire.kind
      if (up.cancel === 'permanent' || (up.cancel === 'transient' && abnormal)) {
        const error = new ProducerDownError(`stage "${record.consumer.id}" stops: its producer "${up.producer}" went away (${why}) and the subscription's cancel mode is ${up.cancel}`)
        if (abnormal) this.#env.fail(error)
        else this.#env.stop({ kind: 'shutdown' })
      }
    }
  }

  #takeIngest (stageId: string, port: MessagePort): void {
    const stage = this.#stage(stageId)
    if (stage.kind !== 'producer') throw new InvalidArgumentError(`stage "${stageId}" is a ${stage.kind}; only a producer takes pushed events`)
    const codec = createCodec(this.#codec)
    // A new push port replaces the old one (the main thread resets it after a refused batch).
    this.#ingest.get(stageId)?.port.close()
    this.#ingest.set(stageId, { port, codec })
    port.on('message', (message: IngestMessage) => {
      try {
        switch (message.t) {
          // `received` was counted by the sender, so events in flight when this thread dies count as lost.
          case 'events': stage.ingest(codec.decode(message.body), message.n); break
          default: throw new ProtocolError(`unknown ingest message ${JSON.stringify(message)}`)
        }
      } catch (err) {
        stage.fail(err)
      }
    })
  }
}

/** The task runner of a consumer_supervisor. */
function taskRunner (boot: StageBoot, module: StageModule): TaskRunner {
  const tasks = boot.tasks as NonNullable<StageBoot['tasks']>
  if (tasks.runner === 'piscina') return new PiscinaRunner(boot.module, tasks.maxThreads)
  const run = (module as ConsumerSupervisorModule).run
  return new InlineRunner((event) => run.call(module, event))
}

/** Builds the dispatcher a producer's spec asks for. */
async function dispatcherFactory (boot: StageBoot): Promise<(outbox: Outbox<Downstream, Envelope>) => Dispatcher<Downstream, Envelope>> {
  const spec = boot.dispatcher
  switch (spec.type) {
    case 'demand': {
      const spread = spec.spread ?? false
      return (outbox) => new DemandDispatcher<Downstream, Envelope>(outbox, { spread })
    }
    case 'broadcast':
      return (outbox) => new BroadcastDispatcher<Downstream, Envelope>(outbox)
    case 'partition': {
      const fn = await importFunction(spec.fn, `stage "${boot.id}" dispatcher.${spec.by}`) as (event: Envelope) => number | string
      const { partitions } = spec
      return spec.by === 'hash'
        ? (outbox) => new PartitionDispatcher<Downstream, Envelope>(outbox, { partitions, hash: fn as (event: Envelope) => number })
        : (outbox) => new PartitionDispatcher<Downstream, Envelope>(outbox, { partitions, key: fn })
    }
    default:
      throw new ProtocolError(`unknown dispatcher ${JSON.stringify(spec)}`)
  }
}

async function subscribeOptions (options: LinkOptionsWire): Promise<SubscribeOptions<Envelope>> {
  const out: { selector?: Selector<Envelope>, partition?: number } = {}
  if (options.selector !== undefined) out.selector = await importFunction(options.selector, 'subscribeTo.selector') as Selector<Envelope>
  if (options.partition !== undefined) out.partition = options.partition
  return out
}

/** Imports `{ url, name }` and checks it is a function. */
async function importFunction (ref: { url: string, name: string }, where: string): Promise<unknown> {
  let ns: Record<string, unknown>
  try {
    ns = await import(ref.url) as Record<string, unknown>
  } catch (err) {
    throw new InvalidArgumentError(`${where}: cannot import ${ref.url}: ${describeThrown(err)}`)
  }
  const fn = ns[ref.name]
  if (typeof fn !== 'function') throw new InvalidArgumentError(`${where}: ${ref.url} has no exported function "${ref.name}"`)
  return fn
}
