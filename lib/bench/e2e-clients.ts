/**
 * The clients of `stagewire bench e2e` with sockets: a process of their own (workers/bench-e2e-clients.ts)
 * holding N raw `ws` sockets that speak Phoenix Channels V2 as little as a subscriber needs (join one
 * topic, heartbeats), parse every frame and time it: push → receipt = now − payload.ts, on the same
 * clock as the server (`performance.timeOrigin + performance.now()`). The demo's official clients are
 * heavier per message and cannot start their latency afresh after a warm-up; these can (`take`).
 *
 * ```
 *   parent                                        clients process
 *     fork ───────────────────────────────────────► (listening on IPC)
 *     start {url, clients: [{token, topic}]} ─────► connect 100 at a time, phx_join each ─► ready {ms}
 *     take {ref} ─────────────────────────────────► took {ref, delivered, errors, latency}   (latency since the previous take)
 *     stop ───────────────────────────────────────► close every socket, exit 0
 * ```
 * @internal
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { LatencySnapshot } from '../metrics/latency.js'
import { workerEntry } from './common.js'

/** Parent → clients process. */
export type ToE2eClients =
  | { type: 'start', url: string, clients: Array<{ token: string, topic: string }> }
  | { type: 'take', ref: number }
  | { type: 'stop' }

/** Clients process → parent. */
export type FromE2eClients =
  | { type: 'ready', ms: number }
  | { type: 'took', ref: number, delivered: number, errors: number, latency: LatencySnapshot }
  | { type: 'failed', message: string }

/** What a take returns. */
export interface E2eTake { delivered: number, errors: number, latency: LatencySnapshot }

const START_TIMEOUT_MS = 120_000

/** The parent's handle on a running clients process. */
export class E2eClients {
  readonly #child: ChildProcess
  readonly #pending = new Map<number, (t: E2eTake) => void>()
  #nextRef = 0
  #failure: Error | null = null

  private constructor (child: ChildProcess) {
    this.#child = child
    child.on('message', (m: FromE2eClients) => {
      if (m.type === 'took') {
        this.#pending.get(m.ref)?.({ delivered: m.delivered, errors: m.errors, latency: m.latency })
        this.#pending.delete(m.ref)
      }
    })
  }

  /** Forks the process, connects every client and joins its topic; resolves once all have joined. */
  static async start (url: string, clients: Array<{ token: string, topic: string }>): Promise<E2eClients> {
    const entry = workerEntry('bench-e2e-clients')
    const path = fileURLToPath(entry)
    const child = fork(path, [], { execArgv: path.endsWith('.ts') ? ['--import', 'tsx'] : [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const link = new E2eClients(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the e2e clients did not join within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
      child.on('message', (m: FromE2eClients) => {
        if (m.type === 'ready') { clearTimeout(timer); resolve() }
        if (m.type === 'failed') { clearTimeout(timer); reject(new Error(`e2e clients: ${m.message}`)) }
      })
      child.once('exit', (code) => { clearTimeout(timer); reject(link.#failure ??= new Error(`the e2e clients process exited (code ${String(code)})`)) })
      child.send({ type: 'start', url, clients } satisfies ToE2eClients)
    }).catch((err: unknown) => {
      child.kill('SIGKILL')
      throw err
    })
    return link
  }

  /** Deliveries so far and the latency since the previous take. */
  take (): Promise<E2eTake> {
    const ref = ++this.#nextRef
    return new Promise((resolve, reject) => {
      if (this.#child.exitCode !== null || !this.#child.connected) { reject(new Error('the e2e clients process is gone')); return }
      this.#pending.set(ref, resolve)
      this.#child.send({ type: 'take', ref } satisfies ToE2eClients)
    })
  }

  /** Closes every socket; resolves once the process has exited. */
  async stop (): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    if (this.#child.connected) this.#child.send({ type: 'stop' } satisfies ToE2eClients)
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}
