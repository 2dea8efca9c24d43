/**
 * The main side of the demo's clients: starts the clients process and drives it (the protocol is
 * in lib/demo/protocol.ts; the clients themselves are lib/demo/client-pool.ts).
 *
 * A child process, not a worker thread. A thread would have an event loop of its own too, but it
 * would share the server's process: its heap in the server's `memoryUsage()`, its receive work
 * (10-25 µs a message with the official client, ANCHORS.md) in the server's CPU time, a client's
 * out-of-memory in the server's process. A process keeps the server's figures clean, can be
 * pinned to a core of its own (`taskset`), and is how the anchor figures were taken (clients in a
 * separate Node process). Latency stays comparable: both processes stamp on
 * `performance.timeOrigin + performance.now()`, taken from the same wall clock.
 *
 * ```ts
 * const clients = await DemoClients.start({ url: `ws://127.0.0.1:${port}/socket`, tokens, topics: { keys, perClient: 3, seed: 1 } })
 * clients.ready.subscribers          // { 'feed:a': 12, ... }
 * clients.on('progress', (p) => ...) // every progressMs
 * const summary = await clients.stop()
 * ```
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { EventEmitter } from 'eventemitter3'
import { InvalidArgumentError, ProtocolError } from '../errors.js'
import { ClientsExitedError, ClientsTimeoutError, demoErrorFromWire } from './errors.js'
import { describe } from './feed.js'
import type { ClientsConfig, ClientsProgress, ClientsReady, ClientsSummary, FromClients, ToClients } from './protocol.js'
import { assignTopics } from './topics.js'
import type { TopicRule } from './topics.js'

/** Options of {@link DemoClients.start}. */
export interface DemoClientsOptions {
  /** The endpoint's socket URL, naming the mount path only: `ws://127.0.0.1:4000/socket`. */
  url: string
  /** One connect token per client: as many clients as tokens. */
  tokens: readonly string[]
  /** The topics of each client (one list per token), or a seeded rule choosing them (see `assignTopics`). */
  topics: ReadonlyArray<readonly string[]> | TopicRule
  /** How long a join may take before the start fails (default 10,000 ms). */
  joinTimeoutMs?: number
  /** Ids remembered per client and topic for the duplicate check (default 1024). */
  dedupWindow?: number
  /** How often `progress` is emitted (default 250 ms; 0: never). */
  progressMs?: number
  /** This server's origin tag: deliveries of payloads with another `origin` are counted as remote. */
  origin?: string
  /** How long `start()` waits for every client to join (default 60,000 ms). */
  startTimeoutMs?: number
}

/** How the clients process ended. */
export interface ClientsExit {
  code: number | null
  signal: string | null
  /** Set when it was not asked to end (a crash, a kill, a failed start): why. */
  error?: Error
}

/** Events of {@link DemoClients}. */
export interface DemoClientsEvents {
  /** The running counts, every `progressMs`. */
  progress: (progress: ClientsProgress) => void
  /** The process ended; `error` set when it was not asked to. */
  exit: (exit: ClientsExit) => void
}

/** The defaults of {@link DemoClientsOptions}. */
export const DEMO_CLIENTS_DEFAULTS = {
  joinTimeoutMs: 10_000,
  dedupWindow: 1024,
  progressMs: 250,
  startTimeoutMs: 60_000,
  requestTimeoutMs: 10_000,
} as const

const fromSource = import.meta.url.endsWith('.ts')
/** Node's longest timer. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** stderr kept from the clients process, for the message of an unexpected exit. */
const STDERR_TAIL = 4096

interface Pending {
  resolve: (summary: ClientsSummary) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/**
 * A running clients process. Start one with {@link DemoClients.start}.
 */
export class DemoClients extends EventEmitter<DemoClientsEvents> {
  /** What the clients process said once every client had joined. */
  readonly ready: ClientsReady
  /** The topics of each client, in token order (resolved from the rule, if one was given). */
  readonly topics: readonly string[][]
  readonly #child: ChildProcess
  readonly #pending = new Map<number, Pending>()
  /** The pending `stop()`, until the process exits. */
  #stopping: Pending | null = null
  #stopped: Promise<ClientsSummary> | null = null
  #finalSummary: ClientsSummary | null = null
  /** What the process reported before it ended on its own (`crash`), or a protocol error. */
  #crash: Error | null = null
  #exited = false
  #nextRef = 0
  readonly #stderr: { tail: string }

  private constructor (child: ChildProcess, ready: ClientsReady, topics: string[][], stderr: { tail: string }) {
    super()
    this.#child = child
    this.ready = ready
    this.topics = topics
    this.#stderr = stderr
    child.on('message', (message: FromClients) => this.#onMessage(message))
    child.once('exit', (code, signal) => this.#onExit(code, signal))
  }

  /**
   * Forks the clients process, connects every client and joins its topics.
   *
   * @returns once every client has joined every one of its topics.
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` (rejects) an option is invalid, worded
   *   `options.tokens must be ...`; nothing was started.
   * @throws {ClientsJoinError} `ERR_CLIENTS_JOIN` (rejects) a join was refused or timed out (the message names it).
   * @throws {ClientsTimeoutError} `ERR_CLIENTS_TIMEOUT` (rejects) not every client joined within `startTimeoutMs`.
   * @throws {ClientsExitedError} `ERR_CLIENTS_EXITED` (rejects) the process ended before it was ready.
   *   In every failure case the process is gone when the promise rejects.
   */
  static async start (options: DemoClientsOptions): Promise<DemoClients> {
    const { config, topics, startTimeoutMs } = checkOptions(options)
    const entry = new URL(`../../workers/demo-clients.${fromSource ? 'ts' : 'js'}`, import.meta.url)
    const child = fork(fileURLToPath(entry), [], {
      // Not the parent's flags (a debugger port, a test runner's loader): only what the entry needs.
      execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    })
    const stderr = { tail: '' }
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => { stderr.tail = (stderr.tail + chunk).slice(-STDERR_TAIL) })
    const ready = await new Promise<ClientsReady>((resolve, reject) => {
      /** What the process said before it ended: the rejection, once it has exited. */
      let failure: Error | null = null
      const timer = setTimeout(() => {
        done()
        child.kill('SIGKILL')
        reject(new ClientsTimeoutError(`the clients did not all join within options.startTimeoutMs (${startTimeoutMs} ms)`))
      }, startTimeoutMs)
      const onMessage = (message: FromClients): void => {
        switch (message.type) {
          case 'ready':
            done()
            resolve(message.ready)
            return
          case 'failed':
          case 'crash':
            // The process exits on its own after either; reject once it has.
            failure = demoErrorFromWire(message.error)
            return
          case 'progress':
          case 'summary':
            return
          default: {
            const unknown: never = message
            done()
            child.kill('SIGKILL')
            reject(new ProtocolError(`unknown message type from the clients process: ${describe((unknown as { type?: unknown }).type)}`))
          }
        }
      }
      const onExit = (code: number | null, signal: string | null): void => {
        done()
        if (failure !== null) reject(failure)
        else reject(new ClientsExitedError(`the clients process ended before it was ready (${exitText(code, signal)})${stderrText(stderr.tail)}`))
      }
      const onError = (err: Error): void => {
        done()
        child.kill('SIGKILL')
        reject(new ClientsExitedError(`the clients process could not be started: ${err.message}`, { cause: err }))
      }
      function done (): void {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
        child.off('error', onError)
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
      child.once('error', onError)
      send(child, { type: 'start', config })
    })
    // After ready, a send to a process that just died must not become an unhandled 'error'.
    child.on('error', ignore)
    return new DemoClients(child, ready, topics, stderr)
  }

  /** The clients process's pid. */
  get pid (): number | undefined {
    return this.#child.pid
  }

  /**
   * Everything counted so far; the clients carry on. With `atLeast`, the report waits until that
   * many deliveries have arrived, or `waitMs` has passed (then it reports what there is): the way to
   * let the last broadcasts arrive before `stop()`.
   *
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` (rejects) `atLeast` or `waitMs` is not a non-negative integer.
   * @throws {ClientsExitedError} `ERR_CLIENTS_EXITED` (rejects) the process is stopping or gone.
   * @throws {ClientsTimeoutError} `ERR_CLIENTS_TIMEOUT` (rejects) no answer within `waitMs` + 10 s.
   */
  report (options: { atLeast?: number, waitMs?: number } = {}): Promise<ClientsSummary> {
    const atLeast = options.atLeast ?? 0
    const waitMs = options.waitMs ?? 0
    if (!Number.isSafeInteger(atLeast) || atLeast < 0) return Promise.reject(new InvalidArgumentError(`options.atLeast must be a non-negative integer, got ${describe(options.atLeast)}`))
    if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > MAX_TIMER_MS - DEMO_CLIENTS_DEFAULTS.requestTimeoutMs) {
      return Promise.reject(new InvalidArgumentError(`options.waitMs must be an integer from 0 to ${MAX_TIMER_MS - DEMO_CLIENTS_DEFAULTS.requestTimeoutMs}, got ${describe(options.waitMs)}`))
    }
    if (this.#exited || this.#stopping !== null) return Promise.reject(new ClientsExitedError('the clients process is stopping or gone'))
    const ref = ++this.#nextRef
    const timeoutMs = waitMs + DEMO_CLIENTS_DEFAULTS.requestTimeoutMs
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref)
        reject(new ClientsTimeoutError(`the clients process did not report within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(ref, { resolve, reject, timer })
      send(this.#child, { type: 'report', ref, atLeast, waitMs })
    })
  }

  /**
   * Stops counting, disconnects every client, and ends the process.
   *
   * @returns the final summary, once the process has exited. Idempotent: a second call returns the same.
   * @throws {ClientsExitedError} `ERR_CLIENTS_EXITED` (rejects) the process ended without a final summary.
   * @throws {ClientsTimeoutError} `ERR_CLIENTS_TIMEOUT` (rejects) it did not finish within `timeoutMs`; it is killed.
   */
  stop (timeoutMs: number = DEMO_CLIENTS_DEFAULTS.requestTimeoutMs): Promise<ClientsSummary> {
    if (this.#stopped !== null) return this.#stopped
    this.#stopped = new Promise((resolve, reject) => {
      if (this.#exited) {
        if (this.#finalSummary !== null) resolve(this.#finalSummary)
        else reject(new ClientsExitedError('the clients process had already ended'))
        return
      }
      const timer = setTimeout(() => {
        this.#stopping = null
        this.#child.kill('SIGKILL')
        reject(new ClientsTimeoutError(`the clients process did not stop within ${timeoutMs} ms; killed`))
      }, timeoutMs)
      this.#stopping = { resolve, reject, timer }
      send(this.#child, { type: 'stop' })
    })
    return this.#stopped
  }

  /** Kills the process at once (SIGKILL): its clients' sockets are reset, not closed. Idempotent. */
  destroy (): void {
    if (!this.#exited) this.#child.kill('SIGKILL')
  }

  #onMessage (message: FromClients): void {
    switch (message.type) {
      case 'progress':
        this.emit('progress', message.progress)
        return
      case 'summary': {
        if (message.final) {
          this.#finalSummary = message.summary
          return
        }
        const pending = message.ref === null ? undefined : this.#pending.get(message.ref)
        if (pending === undefined) return
        this.#pending.delete(message.ref as number)
        clearTimeout(pending.timer)
        pending.resolve(message.summary)
        return
      }
      case 'crash':
      case 'failed':
        this.#crash = demoErrorFromWire(message.error)
        return
      case 'ready':
        return
      default: {
        const unknown: never = message
        this.#crash = new ProtocolError(`unknown message type from the clients process: ${describe((unknown as { type?: unknown }).type)}`)
        this.#child.kill('SIGKILL')
      }
    }
  }

  #onExit (code: number | null, signal: string | null): void {
    this.#exited = true
    const stopping = this.#stopping
    this.#stopping = null
    let error: Error | undefined
    if (stopping !== null && this.#finalSummary !== null && code === 0) {
      clearTimeout(stopping.timer)
      stopping.resolve(this.#finalSummary)
    } else {
      const why = this.#crash === null ? '' : `: ${this.#crash.message}`
      error = new ClientsExitedError(`the clients process ended unexpectedly (${exitText(code, signal)})${why}${stderrText(this.#stderr.tail)}`, { cause: this.#crash ?? undefined })
      if (stopping !== null) {
        clearTimeout(stopping.timer)
        stopping.reject(error)
      }
    }
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(error ?? new ClientsExitedError('the clients process has stopped'))
    }
    this.#pending.clear()
    this.emit('exit', error === undefined ? { code, signal } : { code, signal, error })
  }
}

function send (child: ChildProcess, message: ToClients): void {
  if (child.connected) child.send(message)
}

function ignore (): void {}

function exitText (code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${String(code)}`
}

function stderrText (tail: string): string {
  const text = tail.trim()
  return text === '' ? '' : `; its stderr ends with: ${text.slice(-1000)}`
}

/** Checks the options and resolves the topic rule. */
function checkOptions (options: DemoClientsOptions): { config: ClientsConfig, topics: string[][], startTimeoutMs: number } {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describe(options)}`)
  const { url, tokens } = options
  if (typeof url !== 'string' || !/^wss?:\/\/[^/\s]+\/\S*$/.test(url) || url.includes('/websocket')) {
    throw new InvalidArgumentError(`options.url must be a ws:// or wss:// URL naming the socket's mount path (e.g. "ws://127.0.0.1:4000/socket"), got ${describe(url)}`)
  }
  if (!Array.isArray(tokens) || tokens.length === 0) throw new InvalidArgumentError(`options.tokens must be a non-empty array of connect tokens (one per client), got ${describe(tokens)}`)
  for (let i = 0; i < tokens.length; i++) {
    if (typeof tokens[i] !== 'string' || tokens[i].length === 0) throw new InvalidArgumentError(`options.tokens[${i}] must be a non-empty string, got ${describe(tokens[i])}`)
  }
  let topics: string[][]
  const t: unknown = options.topics
  if (Array.isArray(t)) {
    if (t.length !== tokens.length) throw new InvalidArgumentError(`options.topics must have one list per token (${tokens.length}), got ${t.length}`)
    topics = t.map((list: unknown, i) => checkTopicList(list, `options.topics[${i}]`))
  } else if (typeof t === 'object' && t !== null) {
    try {
      topics = assignTopics(tokens.length, t as TopicRule)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(err.message.replace(/^rule\b/, 'options.topics'))
      throw err
    }
  } else {
    throw new InvalidArgumentError(`options.topics must be one list of topics per client, or a rule { keys, perClient, seed }, got ${describe(t)}`)
  }
  const joinTimeoutMs = positiveInteger(options.joinTimeoutMs, 'joinTimeoutMs', DEMO_CLIENTS_DEFAULTS.joinTimeoutMs)
  const dedupWindow = positiveInteger(options.dedupWindow, 'dedupWindow', DEMO_CLIENTS_DEFAULTS.dedupWindow)
  if (dedupWindow < 2) throw new InvalidArgumentError(`options.dedupWindow must be at least 2, got ${dedupWindow}`)
  const startTimeoutMs = positiveInteger(options.startTimeoutMs, 'startTimeoutMs', DEMO_CLIENTS_DEFAULTS.startTimeoutMs)
  let progressMs: number = DEMO_CLIENTS_DEFAULTS.progressMs
  if (options.progressMs !== undefined) {
    progressMs = options.progressMs
    if (!Number.isSafeInteger(progressMs) || progressMs < 0 || progressMs > MAX_TIMER_MS) {
      throw new InvalidArgumentError(`options.progressMs must be an integer from 0 to ${MAX_TIMER_MS}, got ${describe(options.progressMs)}`)
    }
  }
  const clients = tokens.map((token, i) => ({ token, topics: topics[i] as string[] }))
  if (options.origin !== undefined && (typeof options.origin !== 'string' || options.origin === '')) throw new InvalidArgumentError(`options.origin must be a non-empty string, got ${describe(options.origin)}`)
  const config: ClientsConfig = { url, clients, joinTimeoutMs, dedupWindow, progressMs }
  if (options.origin !== undefined) config.origin = options.origin
  return { config, topics, startTimeoutMs }
}

function checkTopicList (list: unknown, where: string): string[] {
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`${where} must be a non-empty array of topics, got ${describe(list)}`)
  const seen = new Set<string>()
  for (let i = 0; i < list.length; i++) {
    const topic: unknown = list[i]
    if (typeof topic !== 'string' || topic.length === 0) throw new InvalidArgumentError(`${where}[${i}] must be a non-empty string, got ${describe(topic)}`)
    // The official client leaves the older of two channels on one topic.
    if (seen.has(topic)) throw new InvalidArgumentError(`${where} repeats ${describe(topic)}`)
    seen.add(topic)
  }
  return [...list] as string[]
}

function positiveInteger (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`options.${name} must be a positive integer (at most ${MAX_TIMER_MS}), got ${describe(value)}`)
  }
  return value
}
