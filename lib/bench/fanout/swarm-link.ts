/**
 * The server process's handle on its client swarm: starts swarm.ts in a process of its own (pinned
 * to its core when asked), sends it requests and waits for their answers, and keeps track of which
 * broadcasts every client has received (`done`), so a phase can wait for a fan-out to finish.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pinned } from './affinity.js'
import { now } from './protocol.js'
import type { Dialect, FromSwarm, ToSwarm } from './protocol.js'

type Answer = Extract<FromSwarm, { kind: 'joined' | 'clock' | 'report' | 'usage' }>
type AnswerKind = Answer['kind']

interface Waiter {
  from: number
  to: number
  remaining: number
  resolve: (complete: boolean) => void
  timer: ReturnType<typeof setTimeout>
}

const here = import.meta.url
const ext = here.endsWith('.ts') ? 'ts' : 'js'
const STDERR_KEPT = 4000

/** A running swarm process. Every method rejects once the swarm has failed or exited. */
export class SwarmLink {
  /** Called with every broadcast that all clients have received (the sustained phase's pump). */
  onDone: ((seq: number) => void) | null = null
  readonly #child: ChildProcess
  #done = new Uint8Array(4096)
  #waiters: Waiter[] = []
  readonly #answers = new Map<AnswerKind, Array<{ resolve: (a: Answer) => void, reject: (e: Error) => void }>>()
  #failure: Error | null = null
  #stderr = ''
  #ready: Promise<void>
  readonly #exited: Promise<void>

  private constructor (core: number | null) {
    const script = fileURLToPath(new URL(`./swarm.${ext}`, here))
    const [command, args] = pinned(core, [process.execPath, ...(ext === 'ts' ? ['--import', 'tsx'] : []), script])
    this.#child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.#child.stderr?.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-STDERR_KEPT) })
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code, signal) => {
      this.#fail(new Error(`the client swarm exited (${signal ?? `code ${String(code)}`}): ${this.#stderr}`))
      resolve()
    }))
    this.#ready = new Promise((resolve, reject) => {
      const onReady = (m: FromSwarm): void => {
        if (m.kind !== 'ready') return
        this.#child.off('message', onReady)
        resolve()
      }
      this.#child.on('message', onReady)
      this.#child.once('exit', () => reject(this.#failure ?? new Error('the client swarm exited before it was ready')))
    })
    this.#child.on('message', (m: FromSwarm) => this.#onMessage(m))
  }

  /** Starts a swarm process, on `core` when it is not null, and waits until it listens. */
  static async spawn (core: number | null): Promise<SwarmLink> {
    const link = new SwarmLink(core)
    await link.#ready
    return link
  }

  /** Opens `clients` sockets to `url` (at most `concurrency` joining at once) and joins each; resolves with the ms it took. */
  async connect (dialect: Dialect, url: string, clients: number, concurrency: number): Promise<number> {
    const answer = await this.#request({ kind: 'connect', dialect, url, clients, concurrency }, 'joined')
    return (answer as Extract<FromSwarm, { kind: 'joined' }>).ms
  }

  /**
   * How far the swarm's clock is from this one, in ms, from the exchange with the shortest round
   * trip of `samples`: (swarm's reading) - (midpoint of the round trip here).
   */
  async clockOffset (samples = 7): Promise<number> {
    let best = Infinity
    let offset = 0
    for (let i = 0; i < samples; i++) {
      const at = now()
      const answer = await this.#request({ kind: 'clock', at }, 'clock') as Extract<FromSwarm, { kind: 'clock' }>
      const back = now()
      if (back - at < best) {
        best = back - at
        offset = answer.now - (at + back) / 2
      }
    }
    return offset
  }

  /** Per broadcast `from`..`to`: how many clients got it, when the first and the last did. */
  async report (from: number, to: number): Promise<Extract<FromSwarm, { kind: 'report' }>> {
    return await this.#request({ kind: 'report', from, to }, 'report') as Extract<FromSwarm, { kind: 'report' }>
  }

  /** The swarm's CPU time so far (µs), its clock, and the messages it has received. */
  async usage (): Promise<Extract<FromSwarm, { kind: 'usage' }>> {
    return await this.#request({ kind: 'usage' }, 'usage') as Extract<FromSwarm, { kind: 'usage' }>
  }

  /** Whether every client has received broadcast `seq`. */
  isDone (seq: number): boolean {
    return seq < this.#done.length && this.#done[seq] === 1
  }

  /** Resolves true once every client has received every broadcast `from`..`to`, false after `timeoutMs`. */
  whenDone (from: number, to: number, timeoutMs: number): Promise<boolean> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    let remaining = 0
    for (let s = from; s <= to; s++) if (!this.isDone(s)) remaining++
    if (remaining === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        from,
        to,
        remaining,
        resolve,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter)
          resolve(false)
        }, timeoutMs),
      }
      this.#waiters.push(waiter)
    })
  }

  /** Tells the swarm to drop its sockets and exit; resolves when it has. */
  async close (): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null && this.#child.connected) this.#child.send({ kind: 'close' } satisfies ToSwarm)
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000)
    await this.#exited
    clearTimeout(timer)
  }

  #request (message: ToSwarm, answer: AnswerKind): Promise<Answer> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      let queue = this.#answers.get(answer)
      if (queue === undefined) {
        queue = []
        this.#answers.set(answer, queue)
      }
      queue.push({ resolve, reject })
      this.#child.send(message)
    })
  }

  #onMessage (m: FromSwarm): void {
    switch (m.kind) {
      case 'ready': return
      case 'done': this.#onDone(m.seq); return
      case 'joined':
      case 'clock':
      case 'report':
      case 'usage': this.#answers.get(m.kind)?.shift()?.resolve(m); return
      case 'failed': this.#fail(new Error(`the client swarm failed: ${m.message}`)); return
      default: this.#fail(new Error(`unknown message from the swarm: ${JSON.stringify(m as unknown)}`))
    }
  }

  #onDone (seq: number): void {
    if (seq >= this.#done.length) {
      let size = this.#done.length
      while (size <= seq) size *= 2
      const done = new Uint8Array(size)
      done.set(this.#done)
      this.#done = done
    }
    this.#done[seq] = 1
    if (this.#waiters.length > 0) {
      for (const w of this.#waiters) {
        if (seq >= w.from && seq <= w.to && --w.remaining === 0) {
          clearTimeout(w.timer)
          w.resolve(true)
        }
      }
      this.#waiters = this.#waiters.filter((w) => w.remaining > 0)
    }
    this.onDone?.(seq)
  }

  #fail (err: Error): void {
    if (this.#failure !== null) return
    this.#failure = err
    for (const queue of this.#answers.values()) for (const pending of queue.splice(0)) pending.reject(err)
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.resolve(false)
    }
  }
}
