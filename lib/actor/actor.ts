/**
 * The main thread's handle on one actor thread.
 *
 * It starts the thread, waits for `init`, watches heartbeats, keeps the
 * latest stats, relays calls, stops the thread gracefully (or not), and
 * turns however the thread ended into one {@link ExitReason}, emitted once as
 * `exit`. It never restarts anything: that is the supervisor's decision.
 * @internal
 */
import { MessageChannel } from 'node:worker_threads'
import type { MessagePort, ResourceLimits, Worker } from 'node:worker_threads'
import { EventEmitter } from 'eventemitter3'
import {
  ActorCrashedError, ActorExitedError, ActorInitError, ActorOutOfMemoryError, ActorUnresponsiveError,
  ProtocolError, ShutdownTimeoutError, describeThrown, fromWire,
} from '../errors.js'
import type { ActorBoot, ActorStats, ExitReasonWire, FromActor, StageBoot, StageControl, ToActor } from '../protocol.js'
import { randomSeed } from '../stage/ids.js'
import type { ExitReason } from './behaviour.js'
import { CallClient } from './call-channel.js'
import type { ActorEvents, ActorRef, Shutdown } from './ref.js'
import { spawnThread } from './spawn.js'

/** How to start an actor thread. */
export interface ActorOptions {
  /** Registered name; also the thread's name in diagnostics. */
  id: string
  /** `file:` URL of the module. */
  module: string
  args?: unknown
  /** Heartbeat period, ms. */
  heartbeatMs: number
  /** Silence longer than this (ms) means the thread is stuck: it is terminated. */
  heartbeatTimeoutMs: number
  /** Stats report period, ms (0 = no periodic reports). */
  statsMs: number
  /** `init` must finish within this many ms. */
  startTimeoutMs: number
  resourceLimits?: ResourceLimits
  /** Pipeline stages this thread hosts instead of a plain actor module. */
  stages?: StageBoot[]
  /** Codec for the thread's stage ports (default `shape`). */
  codec?: string
  /** Seed for envelope ids made in the thread. */
  idSeed?: number
}


type Phase = 'starting' | 'running' | 'stopping' | 'exited'

/** A running actor thread. Create with {@link Actor.start}. @internal */
export class Actor extends EventEmitter<ActorEvents> implements ActorRef {
  readonly id: string
  readonly #options: ActorOptions
  readonly #worker: Worker
  readonly #calls: CallClient
  #phase: Phase = 'starting'
  #lastSignOfLife = Date.now()
  #watchdog: NodeJS.Timeout | undefined
  /** The first cause seen for the thread's end; the worker's `exit` event finalises it. */
  #reason: ExitReason | undefined
  #exited: Promise<ExitReason>
  #stats: ActorStats | undefined
  #onStarted: { resolve: () => void, reject: (err: Error) => void } | undefined

  private constructor (options: ActorOptions) {
    super()
    this.id = options.id
    this.#options = options
    const { port1, port2 } = new MessageChannel()
    const boot: ActorBoot = {
      id: options.id,
      module: options.module,
      args: options.args,
      heartbeatMs: options.heartbeatMs,
      statsMs: options.statsMs,
      callPort: port2,
      codec: options.codec ?? 'shape',
      idSeed: options.idSeed ?? randomSeed(),
      ...(options.stages !== undefined ? { stages: options.stages } : {}),
    }
    this.#worker = spawnThread('actor', {
      workerData: boot,
      transferList: [port2],
      resourceLimits: options.resourceLimits,
      name: `stagewire:${options.id}`,
    })
    this.#calls = new CallClient(port1)
    this.#worker.on('message', (message: FromActor) => this.#onMessage(message))
    this.#worker.on('error', (err: Error) => this.#onError(err))
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => resolve(this.#onExit(code)))
    })
  }

  /**
   * Starts the thread and resolves once the module's `init` has returned.
   * @throws ERR_ACTOR_INIT when the module cannot be loaded, `init` fails, or it does not finish in time.
   */
  static async start (options: ActorOptions): Promise<Actor> {
    const actor = new Actor(options)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        actor.#fail(new ActorInitError(`actor "${options.id}" did not finish init within ${options.startTimeoutMs} ms`))
      }, options.startTimeoutMs)
      actor.#onStarted = {
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (err) => { clearTimeout(timer); reject(err) },
      }
    })
    return actor
  }

  /** The thread's id, for diagnostics. */
  get threadId (): number { return this.#worker.threadId }

  /** True until the thread has exited. */
  get alive (): boolean { return this.#phase !== 'exited' }

  /** The latest stats the thread reported, if any. */
  get stats (): ActorStats | undefined { return this.#stats }

  /** Resolves with the exit reason once the thread has ended. */
  get exited (): Promise<ExitReason> { return this.#exited }

  /**
   * Calls the actor's `handleCall` and resolves with its reply.
   * @throws ERR_CALL_TIMEOUT, ERR_ACTOR_GONE, ERR_MAILBOX_FULL, or the handler's own error.
   */
  call (request: unknown, timeoutMs: number, stage?: string): Promise<unknown> {
    return this.#calls.call(stage ?? this.id, request, timeoutMs, stage)
  }

  /**
   * Stops the thread: asks it to run `terminate` and waits up to `shutdown`
   * ms, then terminates it. Resolves with the exit reason.
   */
  async stop (shutdown: Shutdown): Promise<ExitReason> {
    if (this.#phase === 'exited') return this.#exited
    this.#stopWatchdog()
    if (shutdown === 'brutal_kill') {
      // Also cuts short a graceful stop already under way.
      this.#phase = 'stopping'
      this.#reason ??= { kind: 'shutdown' }
      void this.#worker.terminate()
    } else if (this.#phase !== 'stopping') {
      this.#phase = 'stopping'
      this.#post({ type: 'shutdown', reason: 'shutdown' })
      if (shutdown !== 'infinity') {
        const timer = setTimeout(() => {
          this.#reason ??= { kind: 'error', error: new ShutdownTimeoutError(`actor "${this.id}" did not stop within ${shutdown} ms; terminated`) }
          void this.#worker.terminate()
        }, shutdown)
        void this.#exited.finally(() => clearTimeout(timer))
      }
    }
    return this.#exited
  }

  /**
   * Sends a wiring instruction to the stages of this thread; ports in it
   * are transferred. Ignored once the thread is stopping or gone.
   */
  control (message: StageControl, transfer: MessagePort[] = []): void {
    if (this.#phase !== 'running') {
      for (const port of transfer) port.close()
      return
    }
    this.#worker.postMessage(message satisfies ToActor, transfer)
  }

  /** The stage ids this thread hosts (empty for a plain actor). */
  get stageIds (): string[] {
    return this.#options.stages?.map((s) => s.id) ?? []
  }

  /** The boot description of one of this thread's stages (with its shared counters). */
  stage (id: string): StageBoot | undefined {
    return this.#options.stages?.find((s) => s.id === id)
  }

  #post (message: ToActor): void {
    this.#worker.postMessage(message)
  }

  #onMessage (message: FromActor): void {
    this.#lastSignOfLife = Date.now()
    switch (message.type) {
      case 'ready':
        if (this.#phase === 'starting') {
          this.#phase = 'running'
          this.#startWatchdog()
          this.#onStarted?.resolve()
          this.#onStarted = undefined
        }
        break
      case 'init_failed': {
        const cause = fromWire(message.error)
        this.#fail(new ActorInitError(`actor "${this.id}" failed to start: ${describeThrown(cause)}`, { cause }))
        break
      }
      case 'heartbeat':
        break
      case 'stats':
        this.#stats = message.stats
        this.emit('stats', message.stats)
        break
      case 'dropped':
        this.emit('dropped', message.counts)
        break
      case 'metrics':
        this.emit('metrics', message.report)
        break
      case 'shutdown_ack':
        this.#reason ??= { kind: 'shutdown' }
        break
      case 'exit':
        this.#reason ??= reasonFromWire(message.reason)
        break
      case 'crash': {
        const cause = fromWire(message.error)
        const what = message.origin === 'uncaughtException' ? 'an uncaught exception' : 'an unhandled rejection'
        this.#reason ??= { kind: 'error', error: new ActorCrashedError(`actor "${this.id}" crashed with ${what}: ${describeThrown(cause)}`, { cause }) }
        break
      }
      default:
        this.#fail(new ProtocolError(`actor "${this.id}" sent an unknown message ${JSON.stringify(message)}`))
    }
  }

  #onError (err: Error): void {
    // 'error' comes from errors Node raises for the thread itself (the
    // thread's own handlers report everything else as 'crash').
    const code = (err as { code?: unknown }).code
    const error = code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? new ActorOutOfMemoryError(`actor "${this.id}" exceeded its memory limit (${describeThrown(err)})`)
      : new ActorCrashedError(`actor "${this.id}" crashed: ${describeThrown(err)}`, { cause: err })
    this.#reason ??= { kind: 'error', error }
  }

  /** Ends the thread for a reason found on this side (init failure, stuck thread, protocol error). */
  #fail (error: Error): void {
    this.#reason ??= { kind: 'error', error }
    this.#stopWatchdog()
    void this.#worker.terminate()
  }

  #onExit (code: number): ExitReason {
    this.#phase = 'exited'
    this.#stopWatchdog()
    const reason = this.#reason ?? {
      kind: 'error',
      error: new ActorExitedError(`actor "${this.id}" exited with code ${code} without being asked to`, code),
    }
    this.#calls.close(this.id, reason.kind === 'error' ? reason.error.message : reason.kind)
    if (this.#onStarted !== undefined) {
      const started = this.#onStarted
      this.#onStarted = undefined
      if (reason.kind === 'error' && reason.error instanceof ActorInitError) started.reject(reason.error)
      else started.reject(new ActorInitError(`actor "${this.id}" exited during init: ${reason.kind === 'error' ? reason.error.message : reason.kind}`))
    }
    this.emit('exit', reason)
    return reason
  }

  #startWatchdog (): void {
    const { heartbeatMs, heartbeatTimeoutMs } = this.#options
    this.#watchdog = setInterval(() => {
      const silent = Date.now() - this.#lastSignOfLife
      if (silent > heartbeatTimeoutMs) {
        this.#fail(new ActorUnresponsiveError(`actor "${this.id}" sent no heartbeat for ${silent} ms (timeout ${heartbeatTimeoutMs} ms); terminated`))
      }
    }, Math.min(heartbeatMs, heartbeatTimeoutMs))
    this.#watchdog.unref()
  }

  #stopWatchdog (): void {
    clearInterval(this.#watchdog)
    this.#watchdog = undefined
  }
}

function reasonFromWire (reason: ExitReasonWire): ExitReason {
  return reason.kind === 'error' ? { kind: 'error', error: fromWire(reason.error) } : reason
}
