/**
 * The demo's clients: N official `phoenix` clients (over `ws`) in this process, each joining its
 * topics and checking every frame it receives. It runs in the clients process
 * (workers/demo-clients.ts), and in-process in tests.
 *
 * ```
 *   start()   connect and join, 100 clients at a time ─► every join ok ─► ClientsReady
 *                                                       └► a join refused or timed out: close all, ClientsJoinError
 *   each frame, at the socket level (socket.onMessage, every topic): checkFrame
 *     delivery      ─► delivered, perTopic[topic], duplicate check (DedupWindow per client and topic), latency
 *     not_joined, key_mismatch ─► misrouted;  invalid ─► invalid;  phx_error ─► errors
 *   close()   stop counting, disconnect every client
 * ```
 */
import { performance } from 'node:perf_hooks'
import { Socket } from 'phoenix'
import { WebSocket } from 'ws'
import { DedupWindow } from './dedup-window.js'
import { ClientsJoinError } from './errors.js'
import { checkFrame } from './frame-check.js'
import type { ClientFrame } from './frame-check.js'
import { LatencyRecorder } from './latency.js'
import type { ClientsConfig, ClientsProgress, ClientsReady, ClientsSummary } from './protocol.js'

/**
 * Clients connected and joined at once (as the endpoint's fan-out test does): a thousand connects
 * at once would queue past the server's listen backlog (Node's default, 511).
 */
const CONNECT_BATCH = 100
/** Samples kept in the summary. */
const MAX_SAMPLES = 10
/** The official client's back-off after a lost connection or a failed rejoin: quick, then 2 s. */
const BACKOFF_MS = [50, 100, 250, 500, 1000]

function backoff (tries: number): number {
  return BACKOFF_MS[tries - 1] ?? 2000
}

/** One topic of one client: its duplicate check and the topic's shared delivery counter. */
interface Subscription {
  readonly dedup: DedupWindow
  readonly counter: { n: number }
}

/** How a join ended, the first time. */
type JoinOutcome = { ok: true } | { ok: false, why: string }

/** One official client and what it joined. @internal */
class PoolClient {
  readonly index: number
  readonly socket: Socket
  /** Topics this client joins (from the moment it asks), with their duplicate checks. */
  readonly topics = new Map<string, Subscription>()
  open = false
  lastError = ''

  constructor (index: number, socket: Socket) {
    this.index = index
    this.socket = socket
  }
}

/**
 * The clients of one demo run.
 *
 * ```ts
 * const pool = new ClientPool({ url: 'ws://127.0.0.1:4000/socket', clients: [{ token, topics: ['feed:a'] }], joinTimeoutMs: 10000, dedupWindow: 1024, progressMs: 0 })
 * await pool.start()      // ClientsReady
 * pool.summary()          // ClientsSummary
 * await pool.close()
 * ```
 */
export class ClientPool {
  readonly #config: ClientsConfig
  readonly #clients: PoolClient[] = []
  readonly #perTopic = new Map<string, { n: number }>()
  readonly #latency = new LatencyRecorder()
  #counting = true
  #ready: ClientsReady | null = null
  #delivered = 0
  #remoteDelivered = 0
  #notJoined = 0
  #keyMismatch = 0
  #duplicates = 0
  #invalid = 0
  #errors = 0
  #disconnects = 0
  readonly #samples: string[] = []
  #closing: Promise<void> | null = null
  /** `whenDelivered` waiters, and the smallest count one of them waits for. */
  readonly #waiters = new Set<{ atLeast: number, wake: (reached: boolean) => void }>()
  #wakeAt = Number.POSITIVE_INFINITY

  /** @param config checked by the caller (`DemoClients` validates its options). */
  constructor (config: ClientsConfig) {
    this.#config = config
  }

  /**
   * Connects every client and joins its topics, 100 clients at a time.
   *
   * @throws {ClientsJoinError} `ERR_CLIENTS_JOIN` (rejects) a join was refused or timed out; every
   *   client is disconnected first. The message names the first failures.
   */
  async start (): Promise<ClientsReady> {
    const started = performance.now()
    const specs = this.#config.clients
    const failures: string[] = []
    let failed = 0
    for (let from = 0; from < specs.length && this.#closing === null; from += CONNECT_BATCH) {
      const joins: Array<Promise<JoinOutcome>> = []
      const batch: Array<{ client: PoolClient, topic: string }> = []
      for (let i = from; i < Math.min(from + CONNECT_BATCH, specs.length); i++) {
        const client = this.#connect(i)
        for (const topic of (specs[i] as ClientsConfig['clients'][number]).topics) {
          joins.push(this.#join(client, topic))
          batch.push({ client, topic })
        }
      }
      const outcomes = await Promise.all(joins)
      for (let j = 0; j < outcomes.length; j++) {
        const outcome = outcomes[j] as JoinOutcome
        if (outcome.ok) continue
        failed++
        const { client, topic } = batch[j] as { client: PoolClient, topic: string }
        if (failures.length < 3) failures.push(`client ${client.index} ${topic}: ${outcome.why}${client.lastError === '' ? '' : ` (socket: ${client.lastError})`}`)
      }
      if (failed > 0) break
    }
    if (failed > 0 || this.#closing !== null) {
      await this.close()
      if (failed === 0) throw new ClientsJoinError('closed while joining')
      throw new ClientsJoinError(`${failed} join(s) failed, the first: ${failures.join('; ')}`)
    }
    const subscribers: Record<string, number> = {}
    let joined = 0
    for (const client of this.#clients) {
      for (const topic of client.topics.keys()) {
        subscribers[topic] = (subscribers[topic] ?? 0) + 1
        joined++
      }
    }
    this.#ready = { clients: this.#clients.length, joined, subscribers, joinMs: performance.now() - started }
    return this.#ready
  }

  /** The running counts. */
  progress (): ClientsProgress {
    const latency = this.#latency.summary()
    return {
      p50: latency.p50,
      p99: latency.p99,
      delivered: this.#delivered,
      remoteDelivered: this.#remoteDelivered,
      misrouted: this.#notJoined + this.#keyMismatch,
      duplicates: this.#duplicates,
      invalid: this.#invalid,
      errors: this.#errors,
    }
  }

  /** Everything counted so far (a fresh object). */
  summary (): ClientsSummary {
    const perTopic: Record<string, number> = {}
    for (const [topic, counter] of this.#perTopic) perTopic[topic] = counter.n
    return {
      clients: this.#clients.length,
      joined: this.#ready?.joined ?? 0,
      delivered: this.#delivered,
      remoteDelivered: this.#remoteDelivered,
      perTopic,
      misrouted: this.#notJoined + this.#keyMismatch,
      misroutedBy: { not_joined: this.#notJoined, key_mismatch: this.#keyMismatch },
      duplicates: this.#duplicates,
      invalid: this.#invalid,
      latency: this.#latency.summary(),
      errors: this.#errors,
      disconnects: this.#disconnects,
      samples: [...this.#samples],
    }
  }

  /**
   * Resolves once `delivered` reaches `atLeast` (true), or after `waitMs` (false), or when the pool
   * closes (false). For waiting until every expected delivery has arrived before stopping.
   *
   * @throws never.
   */
  whenDelivered (atLeast: number, waitMs: number): Promise<boolean> {
    if (this.#delivered >= atLeast) return Promise.resolve(true)
    if (!this.#counting) return Promise.resolve(false)
    return new Promise((resolve) => {
      const waiter = {
        atLeast,
        wake: (reached: boolean) => {
          clearTimeout(timer)
          this.#waiters.delete(waiter)
          this.#wakeAt = Number.POSITIVE_INFINITY
          for (const w of this.#waiters) this.#wakeAt = Math.min(this.#wakeAt, w.atLeast)
          resolve(reached)
        },
      }
      const timer = setTimeout(() => waiter.wake(false), waitMs)
      this.#waiters.add(waiter)
      this.#wakeAt = Math.min(this.#wakeAt, atLeast)
    })
  }

  /**
   * Stops counting (what arrives from now on is not counted) and disconnects every client. Resolves
   * once every socket is closed; the official client gives up waiting on a socket after ~1.5 s.
   * Idempotent.
   *
   * @throws never.
   */
  close (): Promise<void> {
    if (this.#closing !== null) return this.#closing
    this.#counting = false
    for (const waiter of [...this.#waiters]) waiter.wake(false)
    this.#closing = Promise.all(this.#clients.map(disconnect)).then(() => {})
    return this.#closing
  }

  #connect (index: number): PoolClient {
    const spec = this.#config.clients[index] as ClientsConfig['clients'][number]
    const socket = new Socket(this.#config.url, {
      // Without `transport`, Node 20 falls back to long-polling (see docs: ANCHORS.md).
      transport: WebSocket,
      params: { token: spec.token },
      timeout: this.#config.joinTimeoutMs,
      reconnectAfterMs: backoff,
      rejoinAfterMs: backoff,
    })
    const client = new PoolClient(index, socket)
    this.#clients.push(client)
    socket.onOpen(() => { client.open = true })
    socket.onClose(() => {
      if (client.open && this.#counting) this.#disconnects++
      client.open = false
    })
    socket.onError((error: unknown) => {
      client.lastError = describeError(error)
      if (!this.#counting) return
      this.#errors++
      this.#sample(`client ${index} socket error: ${client.lastError}`)
    })
    // One listener per client, made once: it sees every frame, whatever its topic.
    socket.onMessage((message: object) => this.#onFrame(client, message as ClientFrame))
    socket.connect()
    return client
  }

  #join (client: PoolClient, topic: string): Promise<JoinOutcome> {
    let counter = this.#perTopic.get(topic)
    if (counter === undefined) {
      counter = { n: 0 }
      this.#perTopic.set(topic, counter)
    }
    // Frames of the topic count from the moment the client asks to join it.
    client.topics.set(topic, { dedup: new DedupWindow(this.#config.dedupWindow), counter })
    const channel = client.socket.channel(topic, {})
    const timeoutMs = this.#config.joinTimeoutMs
    return new Promise((resolve) => {
      let settled = false
      const fail = (why: string): void => {
        settled = true
        clearTimeout(timer)
        // A refused join is retried forever otherwise. (Not while disconnected: the leave would
        // wait in the send buffer with a timer of its own; the pool is closed after a failure.)
        if (client.socket.isConnected()) channel.leave()
        resolve({ ok: false, why })
      }
      // The official client's own join timeout is cancelled each time the socket fails to
      // connect (a refused token, say), so it would wait forever: this deadline does not.
      const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs)
      channel.join(timeoutMs)
        // 'ok' fires again after every automatic rejoin; only the first settles the join.
        .receive('ok', () => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve({ ok: true })
        })
        .receive('error', (response: { reason?: unknown }) => {
          const why = `refused: ${typeof response?.reason === 'string' ? response.reason : JSON.stringify(response)}`
          if (settled) this.#rejoinFailed(client, topic, why)
          else fail(why)
        })
        .receive('timeout', () => {
          if (settled) this.#rejoinFailed(client, topic, 'timed out')
          else fail(`no reply within ${timeoutMs} ms`)
        })
    })
  }

  #rejoinFailed (client: PoolClient, topic: string, why: string): void {
    if (!this.#counting) return
    this.#errors++
    this.#sample(`client ${client.index} ${topic}: rejoin ${why}`)
  }

  #onFrame (client: PoolClient, frame: ClientFrame): void {
    if (!this.#counting) return
    const verdict = checkFrame(frame, client.topics)
    switch (verdict) {
      case 'control':
        if (frame.event === 'phx_error') {
          this.#errors++
          this.#sample(`client ${client.index} ${frame.topic}: phx_error`)
        }
        return
      case 'delivery': {
        const received = performance.timeOrigin + performance.now()
        const payload = frame.payload as { id: number | string, ts: number, origin?: unknown }
        const subscription = client.topics.get(frame.topic) as Subscription
        if (subscription.dedup.seen(payload.id)) this.#duplicates++
        this.#latency.record(received - payload.ts)
        // Pushed on another server: not part of this server's accounting (nor of `perTopic`).
        if (this.#config.origin !== undefined && payload.origin !== undefined && payload.origin !== this.#config.origin) {
          this.#remoteDelivered++
          return
        }
        this.#delivered++
        subscription.counter.n++
        if (this.#delivered >= this.#wakeAt) this.#wakeReached()
        return
      }
      case 'not_joined':
        this.#notJoined++
        this.#sample(`client ${client.index} got ${frame.topic} "${frame.event}", a topic it did not join: ${preview(frame.payload)}`)
        return
      case 'key_mismatch':
        this.#keyMismatch++
        this.#sample(`client ${client.index} got ${frame.topic} "${frame.event}" with another key: ${preview(frame.payload)}`)
        return
      case 'invalid':
        this.#invalid++
        this.#sample(`client ${client.index} got ${frame.topic} "${frame.event}" whose payload is not {id, ts, key, data}: ${preview(frame.payload)}`)
        return
      default: {
        const unknown: never = verdict
        throw new Error(`unknown frame verdict ${String(unknown)}`)
      }
    }
  }

  #wakeReached (): void {
    for (const waiter of [...this.#waiters]) if (this.#delivered >= waiter.atLeast) waiter.wake(true)
  }

  #sample (text: string): void {
    if (this.#samples.length < MAX_SAMPLES) this.#samples.push(text)
  }
}

/** A summary of no clients: what a run stopped before it started reports. */
export function emptySummary (): ClientsSummary {
  return {
    clients: 0, joined: 0, delivered: 0, remoteDelivered: 0, perTopic: {}, misrouted: 0, misroutedBy: { not_joined: 0, key_mismatch: 0 },
    duplicates: 0, invalid: 0, latency: new LatencyRecorder().summary(), errors: 0, disconnects: 0, samples: [],
  }
}

function disconnect (client: PoolClient): Promise<void> {
  return new Promise((resolve) => client.socket.disconnect(() => resolve(), 1000, 'demo over'))
}

function describeError (error: unknown): string {
  if (error instanceof Error) return error.message
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' ? message : String(error)
}

function preview (payload: unknown): string {
  let text: string
  try {
    text = JSON.stringify(payload) ?? String(payload)
  } catch {
    text = String(payload)
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}
