/**
 * Small helpers the scenarios share (in the child process that runs one contender).
 * @internal
 */
import { fileURLToPath } from 'node:url'
import type { Runtime } from '../runtime.js'
import type { ChildInfo } from '../supervisor/supervisor.js'

const here = import.meta.url
/** `ts` when running from the sources (tsx), `js` in the built package. */
export const EXT = here.endsWith('.ts') ? 'ts' : 'js'

/** The path of one of the benchmark stage modules (lib/bench/stages/). */
export function benchStage (name: string): string {
  return fileURLToPath(new URL(`./stages/${name}.${EXT}`, here))
}

/** The URL of a thread or process entry in workers/. */
export function workerEntry (name: string): URL {
  return new URL(`../../workers/${name}.${EXT}`, here)
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** Waits until `done()` is true, checking every 10 ms, for at most `timeoutMs`; returns whether it became true. */
export async function until (done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) return false
    await sleep(10)
  }
  return true
}

/**
 * Keeps the highest V8 heap each thread of a runtime reported (its actors' `stats`, every second
 * by default), and the main thread's, sampled every 250 ms until `stop()`.
 */
export class HeapWatch {
  readonly peak: Record<string, number> = {}
  readonly #timer: NodeJS.Timeout
  readonly #rt: Runtime

  constructor (rt: Runtime) {
    this.#rt = rt
    this.#timer = setInterval(() => this.sample(), 250)
    this.sample()
  }

  sample (): void {
    this.#keep('main', process.memoryUsage().heapUsed)
    const walk = (children: ChildInfo[]): void => {
      for (const c of children) {
        const heap = c.stats?.heapUsed
        if (typeof heap === 'number') this.#keep(c.id, heap)
        if (c.children !== undefined) walk(c.children)
      }
    }
    walk(this.#rt.whichChildren())
  }

  /** Stops sampling; returns `heap_mib_<thread>` figures. */
  stop (): Record<string, number> {
    clearInterval(this.#timer)
    this.sample()
    const out: Record<string, number> = {}
    for (const [thread, bytes] of Object.entries(this.peak)) out[`heap_mib_${thread}`] = bytes / 2 ** 20
    return out
  }

  #keep (thread: string, bytes: number): void {
    if (bytes > (this.peak[thread] ?? 0)) this.peak[thread] = bytes
  }
}
