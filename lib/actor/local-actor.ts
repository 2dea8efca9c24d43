/**
 * Stages run in the host app's own thread (`thread: "main"` in the spec):
 * same modules, same demand semantics, no worker.
 *
 * For tests and tiny deployments. There is no isolation: a throw or a
 * rejection inside a stage callback (or a broken demand contract) is caught
 * and handled as a crash of this "thread" (its stages stop, its ports close,
 * the supervisor restarts it), but an error thrown from a timer the stage
 * module set itself reaches the host's own `uncaughtException`, an infinite
 * loop blocks the host, and memory is the host's. Put risky stages in
 * threads of their own.
 * @internal
 */
import type { MessagePort } from 'node:worker_threads'
import { EventEmitter } from 'eventemitter3'
import { ActorCrashedError, ActorGoneError, ActorInitError, CallTimeoutError, ShutdownTimeoutError, describeThrown, fromWire } from '../errors.js'
import type { ActorStats, StageBoot, StageControl } from '../protocol.js'
import { isBuiltinRequest } from '../protocol.js'
import { StageHost } from '../stage/host.js'
import { randomSeed } from '../stage/ids.js'
import type { ExitReason } from './behaviour.js'
import type { ActorEvents, ActorRef, Shutdown } from './ref.js'

/** How to start a group of stages in the host's thread. */
export interface LocalActorOptions {
  id: string
  stages: StageBoot[]
  codec: string
  startTimeoutMs: number
}

/** A group of stages running in the host app's thread. @internal */
export class LocalActor extends EventEmitter<ActorEvents> implements ActorRef {
  readonly id: string
  readonly threadId = 0
  readonly #options: LocalActorOptions
  readonly #host: StageHost
  #alive = true
  #resolveExit!: (reason: ExitReason) => void
  readonly #exited: Promise<ExitReason>
  #calls = 0

  private constructor (options: LocalActorOptions) {
    super()
    this.id = options.id
    this.#options = options
    this.#exited = new Promise((resolve) => { this.#resolveExit = resolve })
    this.#host = new StageHost({
      fail: (err) => this.#crash(err),
      stop: (reason) => { void this.#finish(reason) },
      dropped: (stage, count, reason) => this.emit('dropped', { [stage]: { [reason]: count } }),
    }, { codec: options.codec, idSeed: randomSeed() })
  }

  /**
   * Loads the stage modules and runs their `init`s in order.
   * @throws ERR_ACTOR_INIT
   */
  static async start (options: LocalActorOptions): Promise<LocalActor> {
    const actor = new LocalActor(options)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        (async () => {
          await actor.#host.load(options.stages)
          await actor.#host.init(options.stages)
        })(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(reject, options.startTimeoutMs, new ActorInitError(`stages "${options.id}" did not finish init within ${options.startTimeoutMs} ms`))
        }),
      ])
    } catch (err) {
      actor.#host.close()
      actor.#end({ kind: 'error', error: err instanceof ActorInitError ? err : new ActorInitError(`stages "${options.id}" failed to start: ${describeThrown(err)}`, { cause: err }) })
      throw err instanceof ActorInitError ? err : new ActorInitError(`stages "${options.id}" failed to start: ${describeThrown(err)}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
    return actor
  }

  get alive (): boolean { return this.#alive }
  get stats (): ActorStats | undefined { return undefined }
  get exited (): Promise<ExitReason> { return this.#exited }
  get stageIds (): string[] { return this.#options.stages.map((s) => s.id) }

  stage (id: string): StageBoot | undefined {
    return this.#options.stages.find((s) => s.id === id)
  }

  async call (request: unknown, timeoutMs: number, stage?: string): Promise<unknown> {
    if (!this.#alive) throw new ActorGoneError(`stages "${this.id}" are gone; the call was not made`)
    this.#calls++
    if (isBuiltinRequest(request)) {
      return request.$ === 'ping' ? 'pong' : { calls: this.#calls, heapUsed: process.memoryUsage().heapUsed, elu: 0 } satisfies ActorStats
    }
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        this.#host.call(stage ?? this.id, request),
        new Promise((_resolve, reject) => {
          timer = setTimeout(reject, timeoutMs, new CallTimeoutError(`call to stage "${stage ?? this.id}" got no reply within ${timeoutMs} ms`))
        }),
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  async stop (shutdown: Shutdown): Promise<ExitReason> {
    if (!this.#alive) return this.#exited
    if (shutdown === 'brutal_kill') {
      this.#host.close()
      this.#end({ kind: 'shutdown' })
      return this.#exited
    }
    let timer: NodeJS.Timeout | undefined
    const late = shutdown === 'infinity'
      ? new Promise<never>(() => {})
      : new Promise<'late'>((resolve) => { timer = setTimeout(resolve, shutdown, 'late') })
    const outcome = await Promise.race([this.#host.terminate({ kind: 'shutdown' }), late])
    clearTimeout(timer)
    this.#host.close()
    this.#end(outcome === 'late'
      ? { kind: 'error', error: new ShutdownTimeoutError(`stages "${this.id}" did not stop within ${String(shutdown)} ms`) }
      : { kind: 'shutdown' })
    return this.#exited
  }

  control (message: StageControl, transfer: MessagePort[] = []): void {
    if (!this.#alive) {
      for (const port of transfer) port.close()
      return
    }
    this.#host.control(message).catch((err: unknown) => this.#crash(err))
  }

  #crash (err: unknown): void {
    if (!this.#alive) return
    this.#host.close()
    const cause = err instanceof Error ? err : fromWire({ name: 'Error', message: describeThrown(err), code: undefined, stack: undefined })
    this.#end({ kind: 'error', error: new ActorCrashedError(`stages "${this.id}" (in the main thread) crashed: ${describeThrown(err)}`, { cause }) })
  }

  async #finish (reason: ExitReason): Promise<void> {
    if (!this.#alive) return
    try {
      await this.#host.terminate(reason)
    } catch {
      // Best effort, as in a worker.
    }
    this.#host.close()
    this.#end(reason)
  }

  #end (reason: ExitReason): void {
    if (!this.#alive) return
    this.#alive = false
    this.#resolveExit(reason)
    this.emit('exit', reason)
  }
}
