/**
 * The run queue of the stages that share one thread.
 *
 * Links between stages in one thread are direct calls, but a call must not
 * run inside the caller (an ask answered inside a dispatch inside a
 * handleEvents would recurse without bound and break the one-callback-at-a-
 * time rule). So a link enqueues the call here and the scheduler runs the
 * queue in a loop: the same ordering as messages between threads, without a
 * message. The loop yields to the event loop (setImmediate) after a time
 * slice, so heartbeats, control messages and port messages are never
 * starved by a pipeline that always has work.
 *
 * Tasks are stored flat (function, receiver, two arguments) so that
 * enqueueing allocates no closure.
 */

type Task = (a: unknown, b: unknown) => void

/** Slice length before yielding to the event loop, ms. */
const SLICE_MS = 10

/** One thread's run queue. */
export class Scheduler {
  #fns: Task[] = []
  #targets: unknown[] = []
  #as: unknown[] = []
  #bs: unknown[] = []
  #head = 0
  #running = false
  #scheduled = false
  #stopped = false
  #error: ((err: unknown) => void)

  /** @param onError called with anything a task throws; the thread's crash handler. */
  constructor (onError: (err: unknown) => void) {
    this.#error = onError
  }

  /** Runs `fn.call(target, a, b)` after what is already queued. */
  enqueue<T, A, B> (fn: (this: T, a: A, b: B) => void, target: T, a: A, b: B): void {
    if (this.#stopped) return
    this.#fns.push(fn as unknown as Task)
    this.#targets.push(target)
    this.#as.push(a)
    this.#bs.push(b)
    if (!this.#running && !this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#runBound)
    }
  }

  /** Drops what is queued and ignores what comes later: the thread's stages are gone. */
  stop (): void {
    this.#stopped = true
    this.#head = this.#fns.length
    this.#compact()
  }


  readonly #runBound = (): void => { this.#run() }

  #run (): void {
    this.#scheduled = false
    if (this.#running) return
    this.#running = true
    const deadline = Date.now() + SLICE_MS
    let ran = 0
    try {
      while (this.#head < this.#fns.length && !this.#stopped) {
        const i = this.#head++
        const fn = this.#fns[i] as Task
        const target = this.#targets[i]
        const a = this.#as[i]
        const b = this.#bs[i]
        // Let go of the arguments now, not at the end of the slice: holding a slice's worth of
        // event batches makes them survive young-generation GCs (measured: GC was 54% of a fused
        // pipeline's time before this).
        this.#as[i] = undefined
        this.#bs[i] = undefined
        fn.call(target, a, b)
        // Checking the clock every 64 tasks keeps Date.now() off the per-task cost.
        if ((++ran & 63) === 0 && Date.now() >= deadline) break
      }
    } catch (err) {
      this.#error(err)
    } finally {
      this.#compact()
      this.#running = false
    }
    if (this.#head < this.#fns.length && !this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#runBound)
    }
  }

  #compact (): void {
    if (this.#head === this.#fns.length) {
      this.#fns.length = 0; this.#targets.length = 0; this.#as.length = 0; this.#bs.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#fns.length) {
      this.#fns = this.#fns.slice(this.#head)
      this.#targets = this.#targets.slice(this.#head)
      this.#as = this.#as.slice(this.#head)
      this.#bs = this.#bs.slice(this.#head)
      this.#head = 0
    }
  }
}
