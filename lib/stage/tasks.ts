/**
 * Where a limited-concurrency stage (GenStage's ConsumerSupervisor) runs
 * its tasks: one task per event, at most N at once, N being the stage's
 * maxDemand (the demand contract is what bounds it: a stage never holds
 * more events than it asked for).
 *
 * - `inline` (the default): the module's `run(event)` is called in the
 *   stage's own thread; async work overlaps, CPU work does not.
 * - `piscina`: `run` executes in a piscina pool of worker threads, for
 *   CPU-heavy tasks. Each task then costs a port round trip (about 5 µs
 *   here) and its event is structured-cloned, so it pays only for real work.
 * @internal
 */
import { Piscina } from 'piscina'
import { InvalidArgumentError } from '../errors.js'
import type { Envelope } from './envelope.js'

/** A task function: one event in, zero or more events (for downstream stages) out. */
export type TaskFunction = (event: Envelope) => unknown

/** Runs tasks. */
export interface TaskRunner {
  run (event: Envelope): Promise<unknown>
  close (): Promise<void>
}

/** Tasks in the stage's thread. */
export class InlineRunner implements TaskRunner {
  readonly #fn: TaskFunction
  constructor (fn: TaskFunction) {
    this.#fn = fn
  }

  run (event: Envelope): Promise<unknown> {
    try {
      return Promise.resolve(this.#fn(event))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async close (): Promise<void> {}
}

/** Tasks in a piscina pool; `module` must export `run`. */
export class PiscinaRunner implements TaskRunner {
  readonly #pool: Piscina

  /** @param maxThreads pool size; the stage's maxDemand still bounds tasks in flight. */
  constructor (module: string, maxThreads: number) {
    if (!Number.isInteger(maxThreads) || maxThreads < 1) throw new InvalidArgumentError(`tasks.maxThreads must be a positive integer, got ${String(maxThreads)}`)
    this.#pool = new Piscina({ filename: module, name: 'run', minThreads: 1, maxThreads, idleTimeout: 30_000 })
  }

  run (event: Envelope): Promise<unknown> {
    return this.#pool.run(event) as Promise<unknown>
  }

  async close (): Promise<void> {
    await this.#pool.close({ force: true })
  }
}
