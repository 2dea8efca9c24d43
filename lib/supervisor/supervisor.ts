/**
 * A supervisor with OTP's semantics.
 *
 * ```
 *                 Supervisor (strategy, maxRestarts in maxSeconds)
 *            ┌──────────┬──────────┬───────────┐
 *          child 1    child 2    child 3     (started in order, stopped in reverse)
 *                        ✗ exits abnormally
 *   one_for_one   →  restart 2
 *   one_for_all   →  stop 3, 1; start 1, 2, 3
 *   rest_for_one  →  stop 3;    start 2, 3
 *   more than maxRestarts restarts within maxSeconds → stop 3, 2, 1 and fail to the parent
 * ```
 *
 * Restart types decide whether an exit is restarted at all: `permanent`
 * always, `transient` only after a failure (not after `normal` or
 * `shutdown`), `temporary` never (and the child is then forgotten, as in
 * OTP). A restart whose start fails counts as another restart, so a child
 * that keeps failing at start-up runs into the intensity limit instead of
 * looping forever.
 *
 * Every change to the children (a failure being handled, a start, a stop)
 * runs on one queue, one at a time, so an exit that arrives in the middle of
 * a restart is handled after it, against the state the restart left.
 *
 * A dynamic supervisor is this class with no children in its spec, the
 * one_for_one strategy and an optional `maxChildren`: children are added with
 * {@link Supervisor.startChild}, as OTP's DynamicSupervisor.
 * @internal
 */
import { Actor } from '../actor/actor.js'
import type { ActorOptions } from '../actor/actor.js'
import type { ActorRef } from '../actor/ref.js'
import { LocalActor } from '../actor/local-actor.js'
import type { ExitReason } from '../actor/behaviour.js'
import type { Registry } from '../actor/registry.js'
import {
  ActorNotFoundError, DuplicateIdError, InvalidArgumentError, RestartIntensityError, RuntimeClosedError, describeThrown,
} from '../errors.js'
import type { ActorStats, StageBoot } from '../protocol.js'
import { StageCounters } from '../stage/counters.js'
import type { TelemetryEvents } from '../telemetry.js'
import type { ChildSpec, Intensity, ShutdownSpec, StageSpec, Strategy, WorkerChildSpec } from './spec.js'

/** What a supervisor needs from the runtime around it. @internal */
export interface SupervisorHost {
  readonly registry: Registry
  /** Codec for batches between stage threads. */
  readonly codec: string
  /** How many subscribers a (broadcast) producer should wait for before it starts (see lib/stage/wiring.ts). */
  awaitSubscribers (stage: string): number
  /** Whether the spec subscribes any consumer to this stage. */
  hasSubscribers (stage: string): boolean
  emit<K extends keyof TelemetryEvents> (event: K, ...args: TelemetryEvents[K]): void
}

/** How a supervisor is configured (the root, a nested or a dynamic one). @internal */
export interface SupervisorConfig extends Intensity {
  strategy: Strategy
  children: ChildSpec[]
  maxChildren?: number
}

/** A child's state, as introspection reports it. */
export type ChildStatus = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped'

/** One child, as `whichChildren()` reports it. */
export interface ChildInfo {
  id: string
  type: ChildSpec['type']
  status: ChildStatus
  restart: ChildSpec['restart']
  /** Restarts of this child since the runtime started. */
  restarts: number
  /** The worker thread's id, while a worker child runs. */
  threadId?: number
  /** The latest stats a worker child reported. */
  stats?: ActorStats
  /** A supervisor child's own children. */
  children?: ChildInfo[]
}

type Running =
  | { kind: 'worker', actor: ActorRef }
  | { kind: 'supervisor', supervisor: Supervisor }

interface Entry {
  spec: ChildSpec
  node: Running | undefined
  status: ChildStatus
  restarts: number
}

/** @internal */
export class Supervisor {
  /** Slash-separated ids from the root, e.g. `root/pipeline`. */
  readonly path: string
  readonly #config: SupervisorConfig
  readonly #host: SupervisorHost
  readonly #onFail: (error: Error) => void
  readonly #entries: Entry[] = []
  /** Times (ms) of recent restarts, for the intensity check. */
  #restartTimes: number[] = []
  #queue: Promise<unknown> = Promise.resolve()
  #stopping = false

  /**
   * @param onFail called once if the supervisor gives up (restart intensity exceeded); its children are stopped by then.
   */
  constructor (path: string, config: SupervisorConfig, host: SupervisorHost, onFail: (error: Error) => void) {
    this.path = path
    this.#config = config
    this.#host = host
    this.#onFail = onFail
    for (const spec of config.children) this.#entries.push({ spec, node: undefined, status: 'stopped', restarts: 0 })
  }

  /**
   * Starts the children in order. If one fails to start, those already
   * started are stopped in reverse order and the error is thrown (OTP's
   * supervisor fails its own start the same way).
   * @throws ERR_ACTOR_INIT (or the child's start error)
   */
  start (): Promise<void> {
    return this.#enqueue(async () => {
      const started: Entry[] = []
      for (const entry of this.#entries) {
        try {
          await this.#startChild(entry)
          started.push(entry)
        } catch (err) {
          for (let i = started.length - 1; i >= 0; i--) await this.#stopChild(started[i] as Entry, { kind: 'shutdown' })
          throw err
        }
      }
    })
  }

  /** Stops the children in reverse start order, each within its shutdown timeout. */
  stop (): Promise<void> {
    this.#stopping = true
    return this.#enqueue(() => this.#stopAll())
  }

  /** Terminates every child thread at once, without waiting for `terminate` callbacks. */
  async destroy (): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#entries.map(async (entry) => {
      const node = entry.node
      if (node === undefined) return
      entry.status = 'stopping'
      if (node.kind === 'worker') await node.actor.stop('brutal_kill')
      else await node.supervisor.destroy()
      entry.node = undefined
      entry.status = 'stopped'
    }))
  }

  /** The children, in start order, with their state; nested supervisors include theirs. */
  whichChildren (): ChildInfo[] {
    return this.#entries.map((entry) => {
      const info: ChildInfo = { id: entry.spec.id, type: entry.spec.type, status: entry.status, restart: entry.spec.restart, restarts: entry.restarts }
      const node = entry.node
      if (node?.kind === 'worker') {
        info.threadId = node.actor.threadId
        if (node.actor.stats !== undefined) info.stats = node.actor.stats
      } else if (node?.kind === 'supervisor') {
        info.children = node.supervisor.whichChildren()
      }
      return info
    })
  }

  /** The nested supervisor with this id, searching the whole subtree. */
  findSupervisor (id: string): Supervisor | undefined {
    for (const entry of this.#entries) {
      const node = entry.node
      if (node?.kind !== 'supervisor') continue
      if (entry.spec.id === id) return node.supervisor
      const deeper = node.supervisor.findSupervisor(id)
      if (deeper !== undefined) return deeper
    }
    return undefined
  }

  /** Every child id in the subtree (registry names are unique across the tree). */
  ids (): string[] {
    const out: string[] = []
    for (const entry of this.#entries) {
      out.push(entry.spec.id)
      if (entry.node?.kind === 'supervisor') out.push(...entry.node.supervisor.ids())
    }
    return out
  }

  /** The stage ids a child hosts (a thread of stages), or none. */
  stageIdsOf (childId: string): string[] {
    const spec = this.#entries.find((e) => e.spec.id === childId)?.spec
    return spec?.type === 'worker' ? spec.stages?.map((s) => s.id) ?? [] : []
  }

  /**
   * Adds a child at the end and starts it (OTP's `start_child`).
   * @throws ERR_DUPLICATE_ID, ERR_INVALID_ARGUMENT when `maxChildren` is reached, ERR_RUNTIME_CLOSED, or the child's start error.
   */
  startChild (spec: ChildSpec): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#stopping) throw new RuntimeClosedError(`supervisor "${this.path}" is stopping`)
      if (this.#entries.some((e) => e.spec.id === spec.id)) {
        throw new DuplicateIdError(`supervisor "${this.path}" already has a child "${spec.id}"`)
      }
      const max = this.#config.maxChildren ?? Number.POSITIVE_INFINITY
      if (this.#entries.length >= max) {
        throw new InvalidArgumentError(`supervisor "${this.path}" already has ${this.#entries.length} children, its maxChildren`)
      }
      const entry: Entry = { spec, node: undefined, status: 'stopped', restarts: 0 }
      await this.#startChild(entry)
      this.#entries.push(entry)
    })
  }

  /**
   * Stops a child and forgets it (OTP's `terminate_child` then `delete_child`).
   * @throws ERR_ACTOR_NOT_FOUND when there is no such child.
   */
  terminateChild (id: string): Promise<void> {
    return this.#enqueue(async () => {
      const index = this.#entries.findIndex((e) => e.spec.id === id)
      if (index < 0) throw new ActorNotFoundError(`supervisor "${this.path}" has no child "${id}"`)
      const entry = this.#entries[index] as Entry
      await this.#stopChild(entry, { kind: 'shutdown' })
      this.#entries.splice(this.#entries.indexOf(entry), 1)
    })
  }

  #enqueue<T> (op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op)
    this.#queue = run.catch(() => {})
    return run
  }

  async #startChild (entry: Entry): Promise<void> {
    const spec = entry.spec
    entry.status = 'starting'
    let node: Running
    try {
      if (spec.type === 'worker') {
        const actor: ActorRef = spec.inThread === true && spec.stages !== undefined
          ? await LocalActor.start({ id: spec.id, stages: spec.stages.map((s) => stageBoot(s, this.#host)), codec: this.#host.codec, startTimeoutMs: spec.startTimeoutMs })
          : await Actor.start(actorOptions(spec, this.#host))
        node = { kind: 'worker', actor }
        // A thread of stages is found under its own name and under each stage's.
        const names = [spec.id, ...actor.stageIds.filter((stageId) => stageId !== spec.id)]
        for (const name of names) this.#host.registry.register(name, actor)
        void actor.exited.then((reason) => {
          for (const name of names) this.#host.registry.unregister(name, actor)
          this.#childExited(entry, node, reason)
        })
      } else {
        const config: SupervisorConfig = spec.type === 'supervisor'
          ? spec
          : { strategy: 'one_for_one', maxRestarts: spec.maxRestarts, maxSeconds: spec.maxSeconds, children: [], maxChildren: spec.maxChildren }
        const supervisor = new Supervisor(`${this.path}/${spec.id}`, config, this.#host, (error) => {
          this.#childExited(entry, node, { kind: 'error', error })
        })
        node = { kind: 'supervisor', supervisor }
        await supervisor.start()
      }
    } catch (err) {
      entry.status = 'stopped'
      throw err
    }
    entry.node = node
    entry.status = 'running'
    this.#host.emit('child:started', {
      supervisor: this.path,
      id: spec.id,
      type: spec.type,
      ...(node.kind === 'worker' ? { threadId: node.actor.threadId } : {}),
    })
    if (this.#stopping) {
      // destroy() ran while this child was starting: do not leave it behind.
      await this.#stopChild(entry, { kind: 'shutdown' })
      throw new RuntimeClosedError(`supervisor "${this.path}" stopped while "${spec.id}" was starting`)
    }
  }

  async #stopChild (entry: Entry, reason: ExitReason): Promise<void> {
    const node = entry.node
    if (node === undefined) return
    entry.status = 'stopping'
    if (node.kind === 'worker') {
      await node.actor.stop(entry.spec.shutdown)
    } else {
      await stopWithin(node.supervisor, entry.spec.shutdown)
      this.#host.emit('child:exited', { supervisor: this.path, id: entry.spec.id, reason })
    }
    entry.node = undefined
    entry.status = 'stopped'
  }

  async #stopAll (): Promise<void> {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      await this.#stopChild(this.#entries[i] as Entry, { kind: 'shutdown' })
    }
  }

  /** Every exit of a child lands here; failures are queued for handling. */
  #childExited (entry: Entry, node: Running, reason: ExitReason): void {
    // Workers report every exit here; supervisors only their failures (#stopChild reports their stops).
    this.#host.emit('child:exited', { supervisor: this.path, id: entry.spec.id, reason })
    // A child we are stopping, or an instance already replaced, needs nothing more.
    if (entry.node !== node || entry.status !== 'running') return
    entry.node = undefined
    entry.status = 'restarting'
    void this.#enqueue(() => this.#handleExit(entry, reason))
  }

  async #handleExit (failed: Entry, reason: ExitReason): Promise<void> {
    if (this.#stopping) {
      failed.status = 'stopped'
      return
    }
    const restart = failed.spec.restart === 'permanent' || (failed.spec.restart === 'transient' && reason.kind === 'error')
    if (!restart) {
      failed.status = 'stopped'
      if (failed.spec.restart === 'temporary') this.#entries.splice(this.#entries.indexOf(failed), 1)
      return
    }
    const index = this.#entries.indexOf(failed)
    let group: Entry[]
    switch (this.#config.strategy) {
      case 'one_for_one': group = [failed]; break
      case 'one_for_all': group = this.#entries.slice(); break
      case 'rest_for_one': group = this.#entries.slice(index); break
      default: throw new InvalidArgumentError(`unknown strategy ${String(this.#config.strategy)}`)
    }
    // Stop the rest of the group, last started first.
    for (let i = group.length - 1; i >= 0; i--) {
      const entry = group[i] as Entry
      if (entry !== failed && entry.node !== undefined) await this.#stopChild(entry, { kind: 'shutdown' })
    }
    // Temporary siblings stopped for the group are not restarted: they are forgotten, as in OTP.
    const dropped = group.filter((entry) => entry !== failed && entry.spec.restart === 'temporary')
    for (const entry of dropped) this.#entries.splice(this.#entries.indexOf(entry), 1)
    group = group.filter((entry) => !dropped.includes(entry))
    await this.#restartGroup(group, reason)
  }

  async #restartGroup (group: Entry[], reason: ExitReason): Promise<void> {
    let lastReason = reason
    for (;;) {
      if (!this.#countRestart()) {
        await this.#giveUp(lastReason)
        return
      }
      const started: Entry[] = []
      try {
        for (const entry of group) {
          await this.#startChild(entry)
          entry.restarts++
          started.push(entry)
          this.#host.emit('child:restarted', { supervisor: this.path, id: entry.spec.id, restarts: entry.restarts, reason })
        }
        return
      } catch (err) {
        if (this.#stopping) return
        lastReason = { kind: 'error', error: err instanceof Error ? err : new Error(describeThrown(err)) }
        for (let i = started.length - 1; i >= 0; i--) await this.#stopChild(started[i] as Entry, { kind: 'shutdown' })
        for (const entry of group) entry.status = 'restarting'
      }
    }
  }

  /** Records a restart; false when it crosses `maxRestarts` within `maxSeconds`. */
  #countRestart (): boolean {
    const now = Date.now()
    const horizon = now - this.#config.maxSeconds * 1000
    this.#restartTimes = this.#restartTimes.filter((t) => t > horizon)
    this.#restartTimes.push(now)
    return this.#restartTimes.length <= this.#config.maxRestarts
  }

  async #giveUp (reason: ExitReason): Promise<void> {
    const { maxRestarts, maxSeconds } = this.#config
    this.#host.emit('supervisor:intensity', { supervisor: this.path, maxRestarts, maxSeconds, reason })
    this.#stopping = true
    await this.#stopAll()
    for (const entry of this.#entries) entry.status = 'stopped'
    const last = reason.kind === 'error' ? describeThrown(reason.error) : reason.kind
    this.#onFail(new RestartIntensityError(
      `supervisor "${this.path}" reached its restart intensity (more than ${maxRestarts} restarts in ${maxSeconds} s); last failure: ${last}`,
      { cause: reason.kind === 'error' ? reason.error : undefined },
    ))
  }
}

function actorOptions (spec: WorkerChildSpec, host: SupervisorHost): ActorOptions {
  return {
    id: spec.id,
    module: spec.module,
    args: spec.args,
    codec: host.codec,
    // Each start gets fresh counters: a restarted stage starts from zero, and the
    // old instance's figures stay readable for loss accounting.
    ...(spec.stages !== undefined ? { stages: spec.stages.map((s) => stageBoot(s, host)) } : {}),
    heartbeatMs: spec.heartbeatMs,
    heartbeatTimeoutMs: spec.heartbeatTimeoutMs,
    statsMs: spec.statsMs,
    startTimeoutMs: spec.startTimeoutMs,
    ...(spec.resourceLimits !== undefined ? { resourceLimits: spec.resourceLimits } : {}),
  }
}

function stageBoot (stage: StageSpec, host: SupervisorHost): StageBoot {
  const awaitSubscribers = stage.dispatcher.type === 'broadcast' ? host.awaitSubscribers(stage.id) : 0
  return {
    id: stage.id,
    kind: stage.kind,
    module: stage.module,
    args: stage.args,
    dispatcher: stage.dispatcher,
    bufferSize: stage.bufferSize,
    bufferKeep: stage.bufferKeep,
    counters: new StageCounters().buffer,
    ...(stage.tasks !== undefined ? { tasks: stage.tasks } : {}),
    ...(awaitSubscribers > 0 ? { awaitSubscribers } : {}),
    ...(stage.kind === 'consumer_supervisor' && host.hasSubscribers(stage.id) ? { holdTaskSlots: true } : {}),
  }
}

/** Stops a nested supervisor within its shutdown spec; past it, its threads are terminated. */
async function stopWithin (supervisor: Supervisor, shutdown: ShutdownSpec): Promise<void> {
  if (shutdown === 'brutal_kill') return supervisor.destroy()
  if (shutdown === 'infinity') return supervisor.stop()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, shutdown, 'late') })
  const outcome = await Promise.race([supervisor.stop(), late])
  clearTimeout(timer)
  if (outcome === 'late') await supervisor.destroy()
}
