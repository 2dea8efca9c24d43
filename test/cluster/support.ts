// Shared by the cluster tests: Redis from REDIS_URL (or a redis-server of the test's own), and
// stagewire servers in child processes (test/fixtures/cluster/server.ts) driven over IPC.
import { fork, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import type { Socket } from 'phoenix'
import type { RuntimeHealth } from '../../lib/cluster/health.js'
import type { BroadcasterStats } from '../../lib/builtins/broadcaster.js'
import type { StreamSourceStats } from '../../lib/queue/stream-source.js'
import { fixture } from '../helpers.js'
import { SECRET } from '../channels/support.js'
import type { ClientMessage, Teardown } from '../channels/support.js'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const HOW = 'start one with `redis-server --daemonize yes --port 6379 --save "" --appendonly no`, or point REDIS_URL at one'

/** True when Redis answers PING at `url` within a second. */
export async function redisAnswers (url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.ping() === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

/**
 * Why the cluster tests cannot run here (Redis at REDIS_URL not answering, or no redis-server
 * binary when `needServer`), or undefined. Under CI a reason is a failure, not a skip.
 */
export async function missingRedis (needServer = false): Promise<string | undefined> {
  if (needServer && spawnSync('redis-server', ['--version']).status !== 0) {
    return 'redis-server is not installed (this test starts its own); install Redis to run it'
  }
  if (!needServer && !(await redisAnswers(REDIS_URL))) return `Redis is not answering at ${REDIS_URL}: ${HOW}`
  return undefined
}

/** A channel prefix no other test run shares (pub/sub ignores the database number). */
export function uniquePrefix (): string {
  return `stagewire-test-${process.pid}-${randomBytes(4).toString('hex')}:`
}

/** A TCP port free right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** A redis-server of the test's own on `port`, keeping nothing on disk; resolves once it answers. */
export async function startRedisServer (t: Teardown, port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 5000
  while (!(await redisAnswers(url))) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 5 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return child
}

/** Kills a redis-server and waits for it to be gone. */
export async function killRedisServer (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** What `stats` answers: the broadcaster's stats, and the runtime's stage:dropped totals by reason. */
export interface ServerStats {
  broadcaster: BroadcasterStats
  dropped: Record<string, number>
  /** The durable queue's reader, when the server has one. */
  source?: StreamSourceStats
}

/** One stagewire server in a child process. */
export class Server {
  readonly #child: ChildProcess
  #next = 0
  readonly #pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, progress?: (n: number) => void }>()
  port = 0
  url = ''

  private constructor (child: ChildProcess) {
    this.#child = child
    child.on('message', (message) => {
      const m = message as { id: number, value?: unknown, error?: string, progress?: number }
      if (m.progress !== undefined) {
        this.#pending.get(m.id)?.progress?.(m.progress)
        return
      }
      const waiter = this.#pending.get(m.id)
      this.#pending.delete(m.id)
      if (m.error !== undefined) waiter?.reject(new Error(m.error))
      else waiter?.resolve(m.value)
    })
    child.once('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`server exited (${code ?? signal})`))
      this.#pending.clear()
    })
  }

  /**
   * Forks a server, starts its runtime against `redisUrl` with `prefix`, and learns its address.
   * `queue`: the source's `queue` spec key (a durable queue).
   */
  static async start (t: Teardown, redisUrl: string, prefix: string, queue?: Record<string, unknown>): Promise<Server> {
    const child = fork(fixture('cluster/server.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    t.teardown(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.disconnect()
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    })
    const server = new Server(child)
    const address = await server.request<{ url: string, port: number }>('start', { redisUrl, prefix, secret: SECRET, ...(queue !== undefined ? { queue } : {}) })
    server.port = address.port
    server.url = address.url
    return server
  }

  request<T> (cmd: string, args: Record<string, unknown> = {}, progress?: (n: number) => void): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(progress !== undefined ? { progress } : {}) })
      this.#child.send({ id, cmd, ...args })
    })
  }

  health (): Promise<RuntimeHealth> { return this.request('health') }
  stats (): Promise<ServerStats> { return this.request('stats') }
  /** Pushes `count` events `{ seq: from.., tag }` on `topic` through the pipeline. */
  push (topic: string, from: number, count: number, tag: string): Promise<number> { return this.request('push', { topic, from, count, tag }) }
  /**
   * `runtime.pushDurable` `count` events `{ seq: from.., tag }` on `topic`, 1000 at a time;
   * `progress(n)` after each thousand Redis confirmed (the first n are accepted).
   */
  pushDurable (topic: string, from: number, count: number, tag: string, progress?: (n: number) => void): Promise<number> {
    return this.request('pushDurable', { topic, from, count, tag }, progress)
  }

  /** Kills the server's process with SIGKILL (no cleanup of any kind) and waits for it to be gone. */
  async kill (): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = once(this.#child, 'exit')
    this.#child.kill('SIGKILL')
    await exited
  }

  /** `runtime.broadcast` `count` times: `{ seq: from.., tag }` on `topic`. */
  broadcast (topic: string, from: number, count: number, tag: string): Promise<number[]> { return this.request('broadcast', { topic, from, count, tag }) }
}

/**
 * Resolves once `check()` holds (the adapter's health is a state to look at, not an event, and
 * it changes in another process: looked at every 50 ms).
 */
export async function until (what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Every broadcast frame a client sees, in order, whatever its topic. */
export function collect (socket: Socket): ClientMessage[] {
  const seen: ClientMessage[] = []
  socket.onMessage((m) => {
    const message = m as ClientMessage
    if (!message.event.startsWith('phx_')) seen.push(message)
  })
  return seen
}

/** The seqs of the frames tagged `tag`, in the order they arrived. */
export function seqs (frames: ClientMessage[], tag: string): number[] {
  return frames.filter((m) => m.payload.tag === tag).map((m) => m.payload.seq as number)
}

/** 0..count-1 shifted by `from`. */
export function range (from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i)
}
