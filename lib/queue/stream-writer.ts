/**
 * `runtime.push()` into a durable queue: every event is appended to the stream (XADD) from the
 * host app's thread, and counts as accepted once Redis has answered with its entry id.
 *
 * ```
 *  push(payload, meta) ─► entry (msgpack, stamped now) ─► batch of this tick
 *                                                  setImmediate ─► one pipeline of XADDs ─► Redis
 *  pushDurable(...) → Promise<entry id>  ◄──────────────────────── answers, in order ◄─┘
 * ```
 *
 * `push()` keeps its contract (returns false past the producer's highWaterMark, `drain` when back
 * under half; never throws for Redis trouble): the backlog is what was pushed and not yet
 * confirmed. An XADD that fails (Redis down: the connection has no offline queue, so it fails at
 * once) is counted as `stage:dropped` with reason `queue_unavailable`, and `pushDurable` rejects
 * with it: the event was not accepted. Nothing is re-sent by the connection after a reconnect (an
 * unanswered XADD may have been applied: re-sending it would add the event twice, under two ids).
 * @internal
 */
import type { Buffer } from 'node:buffer'
import { Redis } from 'ioredis'
import type { QueueHealth } from '../cluster/health.js'
import { InvalidArgumentError, QueueUnavailableError } from '../errors.js'
import type { StageSpec } from '../supervisor/spec.js'
import type { PushEvents, PushMeta } from '../stage/push.js'
import { now } from '../stage/envelope.js'
import { encodeEntry, ENTRY_FIELD } from './entry.js'
import type { StreamQueueSettings } from './stream-spec.js'

interface Pending {
  entry: Buffer
  resolve: ((id: string) => void) | null
  reject: ((err: Error) => void) | null
}

/** What the writer reports besides the push events. */
export interface StreamWriterEvents extends Omit<PushEvents, 'dropped'> {
  dropped (stage: string, count: number, reason: 'unencodable' | 'queue_unavailable'): void
}

/** The durable push queue of one producer stage. @internal */
export class StreamWriter {
  readonly stage: string
  readonly #settings: StreamQueueSettings
  readonly #events: StreamWriterEvents
  readonly #highWater: number
  readonly #lowWater: number
  readonly #redis: Redis
  #batch: Pending[] = []
  #flushScheduled = false
  /** XADDs sent and not answered yet. */
  #inFlight = 0
  #waitingForDrain = false
  #closed = false
  /** Events Redis confirmed. */
  accepted = 0
  /** Events it refused or could not be asked (counted as dropped). */
  failed = 0
  #lastError: string | null = null

  constructor (spec: StageSpec, settings: StreamQueueSettings, events: StreamWriterEvents) {
    this.stage = spec.id
    this.#settings = settings
    this.#events = events
    this.#highWater = spec.highWaterMark
    this.#lowWater = Math.floor(spec.highWaterMark / 2)
    this.#redis = new Redis(settings.url, {
      lazyConnect: true,
      connectTimeout: settings.connectTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(20 * 2 ** (attempt - 1), 1000),
      connectionName: 'stagewire-stream-writer',
    })
    this.#redis.on('error', (err: Error) => {
      // Reconnecting is ioredis's; what fails meanwhile is counted per XADD.
      this.#lastError = err.message
    })
  }

  /** Connects; resolves once connected or after `connectTimeoutMs` (pushes fail until it is). */
  async start (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.#redis.connect().catch(() => {}),
      new Promise((resolve) => { timer = setTimeout(resolve, this.#settings.connectTimeoutMs) }),
    ])
    clearTimeout(timer)
  }

  /** Whether Redis would take an XADD now, and the last connection error (for `runtime.health()`). */
  health (): QueueHealth {
    const redis = this.#redis.status === 'ready' ? 'up' : 'down'
    const { stream, group } = this.#settings
    return { status: redis === 'up' ? 'ok' : 'degraded', queue: { stage: this.stage, stream, group, redis, lastError: this.#lastError } }
  }

  /** Events pushed and not yet confirmed by Redis. */
  get pending (): number {
    return this.#batch.length + this.#inFlight
  }

  /** A producer instance came up or went down: nothing to do, the stream is between them. */
  attach (): void {}
  detach (): void {}

  /** Fails what was not sent, and disconnects once the XADDs in flight are answered (a second at most). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const batch = this.#batch
    this.#batch = []
    this.#fail(batch, new QueueUnavailableError(`push to "${this.stage}": the runtime closed before the event was sent`))
    const deadline = Date.now() + 1000
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    this.#redis.disconnect()
  }

  /**
   * Appends one event; false once past the high-water mark.
   * @throws ERR_INVALID_ARGUMENT for a payload that is undefined, a function or a symbol.
   */
  push (payload: unknown, meta?: PushMeta): boolean {
    this.#add(payload, meta, null, null)
    return this.#below()
  }

  /** Appends many events; false once past the high-water mark. */
  pushMany (payloads: readonly unknown[], meta?: PushMeta): boolean {
    if (!Array.isArray(payloads)) throw new InvalidArgumentError(`pushMany to "${this.stage}" takes an array of payloads, got ${typeof payloads}`)
    for (let i = 0; i < payloads.length; i++) checkPayload(this.stage, payloads[i])
    for (let i = 0; i < payloads.length; i++) this.#add(payloads[i], meta, null, null)
    return this.#below()
  }

  /** Appends one event; resolves with its entry id once Redis has it. */
  pushDurable (payload: unknown, meta?: PushMeta): Promise<string> {
    return new Promise((resolve, reject) => { this.#add(payload, meta, resolve, reject) })
  }

  #add (payload: unknown, meta: PushMeta | undefined, resolve: Pending['resolve'], reject: Pending['reject']): void {
    checkPayload(this.stage, payload)
    let entry: Buffer
    try {
      entry = encodeEntry(now(), meta?.topic, meta?.event, payload)
    } catch (err) {
      this.failed++
      this.#events.dropped(this.stage, 1, 'unencodable')
      if (reject === null) return
      reject(new InvalidArgumentError(`push to "${this.stage}": the payload cannot be encoded (${(err as Error).message})`))
      return
    }
    this.#batch.push({ entry, resolve, reject })
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flush)
    }
  }

  #below (): boolean {
    if (this.pending < this.#highWater) return true
    this.#waitingForDrain = true
    return false
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    const batch = this.#batch
    if (batch.length === 0) return
    this.#batch = []
    const { stream, maxLen } = this.#settings
    const pipeline = this.#redis.pipeline()
    for (let i = 0; i < batch.length; i++) {
      const entry = (batch[i] as Pending).entry
      if (maxLen === undefined) pipeline.xadd(stream, '*', ENTRY_FIELD, entry)
      else pipeline.xadd(stream, 'MAXLEN', '~', maxLen, '*', ENTRY_FIELD, entry)
    }
    this.#inFlight += batch.length
    pipeline.exec().then((results) => {
      this.#inFlight -= batch.length
      let failed: Pending[] | undefined
      let error: Error | undefined
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i] as Pending
        const [err, id] = results?.[i] ?? [new Error('no answer'), null]
        if (err === null && typeof id === 'string') {
          this.accepted++
          p.resolve?.(id)
        } else {
          (failed ??= []).push(p)
          error = err ?? new Error('no entry id')
        }
      }
      if (failed !== undefined) this.#fail(failed, error as Error)
      this.#settled()
    }, (err: Error) => {
      this.#inFlight -= batch.length
      this.#fail(batch, err)
      this.#settled()
    })
  }

  #fail (batch: Pending[], err: Error): void {
    if (batch.length === 0) return
    this.failed += batch.length
    this.#events.dropped(this.stage, batch.length, 'queue_unavailable')
    const error = err instanceof QueueUnavailableError ? err : new QueueUnavailableError(`push to "${this.stage}": Redis did not take the event (${err.message})`, { cause: err })
    for (const p of batch) p.reject?.(error)
  }

  #settled (): void {
    if (this.#waitingForDrain && this.pending <= this.#lowWater) {
      this.#waitingForDrain = false
      this.#events.drain(this.stage)
    }
  }
}

/** A payload that cannot be data at all is refused at once. */
function checkPayload (stage: string, payload: unknown): void {
  const type = typeof payload
  if (type === 'undefined' || type === 'function' || type === 'symbol') {
    throw new InvalidArgumentError(`push to "${stage}": a payload must be plain data, got ${type}`)
  }
}
