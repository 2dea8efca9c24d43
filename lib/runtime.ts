/**
 * The runtime: one supervision tree, its registry and its telemetry, as the
 * host app sees them.
 */
import { EventEmitter } from 'eventemitter3'
import { Registry } from './actor/registry.js'
import { ActorNotFoundError, InvalidArgumentError, RuntimeClosedError } from './errors.js'
import type { TelemetryEvents } from './telemetry.js'
import { loadTreeSpecFile, parseChildSpec, parseTreeSpec } from './supervisor/spec.js'
import type { TreeSpec } from './supervisor/spec.js'
import { Supervisor } from './supervisor/supervisor.js'
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

/** Options of {@link Runtime.close}. */
export interface CloseOptions {
  /** ms for the whole graceful shutdown; past it every remaining thread is terminated (default 30,000). */
  timeout?: number
}

/** The id of the root supervisor in paths and telemetry. */
export const ROOT = 'root'

type State = 'running' | 'closing' | 'closed' | 'failed'

/**
 * A running supervision tree. Create one with {@link start}.
 *
 * Emits the telemetry events of {@link TelemetryEvents}: `child:started`,
 * `child:exited`, `child:restarted`, `supervisor:intensity` and `fatal`
 * (the root supervisor gave up; every child has been stopped, and the host
 * process carries on).
 */
export class Runtime extends EventEmitter<TelemetryEvents> {
  readonly #registry = new Registry()
  readonly #root: Supervisor
  readonly #baseDir: string
  #state: State = 'running'

  /** @internal use {@link start} */
  constructor (spec: TreeSpec, baseDir: string) {
    super()
    this.#baseDir = baseDir
    const host = { registry: this.#registry, emit: this.emit.bind(this) as Runtime['emit'] }
    this.#root = new Supervisor(ROOT, spec, host, (error) => {
      this.#state = 'failed'
      this.emit('fatal', { error })
    })
  }

  /** @internal */
  async startTree (): Promise<void> {
    await this.#root.start()
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
    const timeout = options.timeout ?? 5000
    if (!Number.isInteger(timeout) || timeout <= 0) {
      return Promise.reject(new InvalidArgumentError(`options.timeout must be a positive integer (ms), got ${String(timeout)}`))
    }
    const actor = this.#registry.lookup(name)
    if (actor === undefined) return Promise.reject(new ActorNotFoundError(`no actor named "${name}" is running`))
    return actor.call(request, timeout)
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
    const spec = parseChildSpec(childSpec, { baseDir: options.baseDir ?? this.#baseDir, takenIds: this.#root.ids() })
    await supervisor.startChild(spec)
  }

  /**
   * Stops a child of a (dynamic) supervisor and removes it.
   * @throws ERR_ACTOR_NOT_FOUND
   */
  async terminateChild (supervisorId: string, childId: string): Promise<void> {
    this.#assertRunning()
    await this.#supervisor(supervisorId).terminateChild(childId)
  }

  /**
   * Stops the tree gracefully: children in reverse start order, each within
   * its shutdown timeout. Past `options.timeout` whatever is left is
   * terminated. Afterwards no thread, port or timer of the runtime remains.
   */
  async close (options: CloseOptions = {}): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return
    this.#state = 'closing'
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
