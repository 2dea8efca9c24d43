/**
 * The main thread's side of the pipeline: who subscribes to whom, and the
 * links that carry it out while both ends are running.
 *
 * ```
 *   registry: "enrich" registered (a new thread) ──► for each subscription touching "enrich"
 *                                                      whose other end is running: link it
 *       same thread   → link{side: both}                       (direct calls in that thread)
 *       two threads   → new MessageChannel: port1 → producer thread, port2 → consumer thread
 *   a thread exits    ──► its links are down: the other end is told (down{ref, reason}) and
 *                          applies its cancel mode; what was inside the dead stages is counted lost
 * ```
 *
 * Data never passes through here: once a port is handed over, the two stage
 * threads talk directly. When a restarted producer registers again under its
 * name, the subscriptions of consumers that stayed up are linked again.
 * @internal
 */
import { MessageChannel } from 'node:worker_threads'
import type { ActorRef } from '../actor/ref.js'
import type { ExitReason } from '../actor/behaviour.js'
import type { Registry } from '../actor/registry.js'
import { toWire } from '../errors.js'
import type { DropReason, ExitReasonWire, LinkOptionsWire } from '../protocol.js'
import type { StageSpec, SubscriptionSpec } from '../supervisor/spec.js'
import type { TelemetryEvents } from '../telemetry.js'
import { StageCounters } from './counters.js'
import type { CounterSnapshot } from './counters.js'

interface Subscription {
  consumer: string
  spec: SubscriptionSpec
  link: { ref: number, producer: ActorRef, consumer: ActorRef } | undefined
}

/** What the runtime reports about one stage. */
export interface StageInfo extends CounterSnapshot {
  id: string
  kind: StageSpec['kind']
  /** Whether a thread runs it now. */
  up: boolean
  /** Events lost inside crashed instances of this stage, all instances together. */
  lost: number
  /** Events dropped by its buffer, all instances together. */
  droppedTotal: number
  /** Its producers, by id, with the subscription's state. */
  subscribedTo: Array<{ producer: string, linked: boolean }>
}

interface StageRecord {
  spec: StageSpec
  /** Registered at least once: a stage not yet started at all will come up as the tree starts. */
  seen: boolean
  actor: ActorRef | undefined
  counters: StageCounters | undefined
  lost: number
  /** Drops of instances that have exited. */
  droppedBefore: number
}

type Emit = <K extends keyof TelemetryEvents>(event: K, ...args: TelemetryEvents[K]) => void

/** @internal */
export class Wiring {
  readonly #registry: Registry
  readonly #emit: Emit
  readonly #stages = new Map<string, StageRecord>()
  readonly #subs: Subscription[] = []
  readonly #watched = new WeakSet<ActorRef>()
  /** Producer → the consumers its starting instance waits for (broadcast gate), until each links or goes down. */
  readonly #awaiting = new Map<string, Set<string>>()
  /** Producer → waits to cancel once its instance registers (consumers that went down before it did). */
  readonly #unawaitLater = new Map<string, number>()
  #nextRef = 1

  constructor (registry: Registry, emit: Emit) {
    this.#registry = registry
    this.#emit = emit
    registry.on('registered', (name, actor) => this.#registered(name, actor))
  }

  /** Declares stages (from the tree spec, or a child started at run time) and their subscriptions. */
  addStages (stages: StageSpec[]): void {
    this.removeStages(stages.map((s) => s.id))
    for (const spec of stages) {
      this.#stages.set(spec.id, { spec, seen: false, actor: undefined, counters: undefined, lost: 0, droppedBefore: 0 })
      for (const sub of spec.subscribeTo) this.#subs.push({ consumer: spec.id, spec: sub, link: undefined })
    }
  }

  /** Forgets stages (a child removed at run time) and their subscriptions. */
  removeStages (ids: string[]): void {
    for (const id of ids) this.#stages.delete(id)
    for (let i = this.#subs.length - 1; i >= 0; i--) {
      if (ids.includes((this.#subs[i] as Subscription).consumer)) this.#subs.splice(i, 1)
    }
  }

  /**
   * How many subscriptions a producer starting now should wait for before it emits: those whose
   * consumer is running, or has not been started yet (it is about to be, later in the tree). A
   * consumer that was started and is down now is not waited for, so a producer never waits on a
   * consumer that may never come back.
   */
  awaitSubscribers (producer: string): number {
    const awaited = new Set<string>()
    for (const sub of this.#subs) {
      if (sub.spec.producer !== producer) continue
      const consumer = this.#stages.get(sub.consumer)
      if (consumer !== undefined && (!consumer.seen || consumer.actor?.alive === true)) awaited.add(sub.consumer)
    }
    this.#awaiting.set(producer, awaited)
    this.#unawaitLater.delete(producer)
    return awaited.size
  }

  /** Whether the spec subscribes any consumer to `producer`. */
  hasSubscribers (producer: string): boolean {
    return this.#subs.some((sub) => sub.spec.producer === producer)
  }

  /** Counts drops that happened outside any stage instance (pushes while the producer was down). */
  addDropped (stage: string, count: number): void {
    const record = this.#stages.get(stage)
    if (record !== undefined) record.droppedBefore += count
  }

  /** Every stage's spec, for validating subscriptions of children added later. */
  specs (): StageSpec[] {
    return [...this.#stages.values()].map((r) => r.spec)
  }

  /** The spec of a stage, if it is one. */
  spec (id: string): StageSpec | undefined {
    return this.#stages.get(id)?.spec
  }

  /** Live figures of every stage. */
  info (): StageInfo[] {
    return [...this.#stages.values()].map((r) => {
      const counters = r.counters?.snapshot() ?? { received: 0, handled: 0, emitted: 0, dropped: 0, buffered: 0, queued: 0, demand: 0, callbacks: 0, running: 0, failed: 0 }
      return {
        id: r.spec.id,
        kind: r.spec.kind,
        up: r.actor?.alive === true,
        ...counters,
        lost: r.lost,
        droppedTotal: r.droppedBefore + counters.dropped,
        subscribedTo: this.#subs.filter((s) => s.consumer === r.spec.id).map((s) => ({ producer: s.spec.producer, linked: s.link !== undefined })),
      }
    })
  }

  #registered (name: string, actor: ActorRef): void {
    const record = this.#stages.get(name)
    const boot = actor.stage(name)
    if (record === undefined || boot === undefined) return
    record.actor = actor
    record.seen = true
    record.counters = new StageCounters(boot.counters)
    if (!this.#watched.has(actor)) {
      this.#watched.add(actor)
      actor.on('dropped', (counts) => {
        for (const [stage, byReason] of Object.entries(counts)) {
          for (const [reason, count] of Object.entries(byReason)) {
            if (count !== undefined && count > 0) this.#emit('stage:dropped', { stage, count, reason: reason as DropReason })
          }
        }
      })
      void actor.exited.then((reason) => this.#down(actor, reason))
    }
    for (const sub of this.#subs) {
      if (sub.link === undefined && (sub.consumer === name || sub.spec.producer === name)) this.#link(sub)
    }
    const later = this.#unawaitLater.get(name) ?? 0
    this.#unawaitLater.delete(name)
    for (let i = 0; i < later; i++) actor.control({ type: 'unawait', stage: name })
  }

  #link (sub: Subscription): void {
    const producer = this.#registry.lookup(sub.spec.producer)
    const consumer = this.#registry.lookup(sub.consumer)
    if (producer === undefined || consumer === undefined || !producer.alive || !consumer.alive) return
    const producerBoot = producer.stage(sub.spec.producer)
    const consumerBoot = consumer.stage(sub.consumer)
    if (producerBoot === undefined || consumerBoot === undefined) return
    const ref = this.#nextRef++
    sub.link = { ref, producer, consumer }
    this.#awaiting.get(sub.spec.producer)?.delete(sub.consumer)
    const options: LinkOptionsWire = {
      maxDemand: sub.spec.maxDemand,
      minDemand: sub.spec.minDemand,
      cancel: sub.spec.cancel,
      ...(sub.spec.selector !== undefined ? { selector: sub.spec.selector } : {}),
      ...(sub.spec.partition !== undefined ? { partition: sub.spec.partition } : {}),
    }
    const names = { ref, producer: sub.spec.producer, consumer: sub.consumer, options }
    if (producer === consumer) {
      producer.control({ type: 'link', side: 'both', ...names })
      return
    }
    const { port1, port2 } = new MessageChannel()
    producer.control({ type: 'link', side: 'producer', ...names, port: port1, peerCounters: consumerBoot.counters }, [port1])
    consumer.control({ type: 'link', side: 'consumer', ...names, port: port2 }, [port2])
  }

  /** A thread exited: its links are down, its peers are told, and what died inside it is counted. */
  #down (actor: ActorRef, reason: ExitReason): void {
    const wire: ExitReasonWire = reason.kind === 'error' ? { kind: 'error', error: toWire(reason.error) } : reason
    for (const sub of this.#subs) {
      const link = sub.link
      if (link === undefined || (link.producer !== actor && link.consumer !== actor)) continue
      sub.link = undefined
      const other = link.producer === actor ? link.consumer : link.producer
      if (other !== actor && other.alive) other.control({ type: 'down', ref: link.ref, reason: wire })
    }
    // Producers still waiting for one of these stages to subscribe stop waiting: it is gone.
    for (const id of actor.stageIds) {
      for (const [producer, awaited] of this.#awaiting) {
        if (!awaited.delete(id)) continue
        const target = this.#registry.lookup(producer)
        if (target !== undefined && target.alive && target.stage(producer) !== undefined) target.control({ type: 'unawait', stage: producer })
        else this.#unawaitLater.set(producer, (this.#unawaitLater.get(producer) ?? 0) + 1)
      }
    }
    for (const id of actor.stageIds) {
      const record = this.#stages.get(id)
      if (record === undefined || record.actor !== actor || record.counters === undefined) continue
      const c = record.counters.snapshot()
      record.droppedBefore += c.dropped
      // Its figures are in droppedBefore/lost now; the next instance brings fresh counters.
      record.counters = undefined
      const lost = Math.max(0, c.received - c.handled) + c.buffered
      // Events still inside a stage when its thread ends are lost, whatever the reason:
      // in-memory delivery is at-most-once, and a graceful stop does not drain.
      if (lost > 0) {
        record.lost += lost
        this.#emit('stage:lost', { stage: id, count: lost, reason })
      }
    }
  }
}
