/**
 * The Redis cluster adapter of the broadcaster: every broadcast made on this server is published
 * on one Redis channel, and every broadcast another server published there is handed to this
 * server's endpoint, which delivers it to its own subscribers of the topic.
 *
 * ```
 *  server A (broadcaster thread)                 Redis                  server B (broadcaster thread)
 *  handleEvents / runtime.broadcast
 *    endpoint.broadcast ──► A's subscribers
 *    publish(msg) ── pub conn ──► PUBLISH <prefix>broadcast ──► sub conn ── msg from A? ──► endpoint.broadcast
 *                                                │                          └─► B's subscribers
 *    A's sub conn ◄── msg (node = A: skipped) ◄──┘
 * ```
 *
 * Why one channel per prefix (`<prefix>broadcast`, the topic inside the message) rather than one per
 * topic: it is one SUBSCRIBE, made once per connection and made again after every reconnect, that
 * never changes as clients join and leave (per-topic SUBSCRIBE, as socket.io's Redis adapter does per
 * room, would race every first join against its SUBSCRIBE and must be replayed topic by topic after a
 * reconnect); PSUBSCRIBE `<prefix>*` would send every message to every server all the same, plus a
 * glob match per message. The cost is that each server receives every broadcast, also of topics it
 * has no subscriber for; it skips them after reading the topic (the endpoint finds no subscriber).
 * Phoenix.PubSub's Redis adapter makes the same choice. A bonus: one publishing connection into one
 * channel keeps the order of all of a server's broadcasts, across topics.
 *
 * Why ioredis (not node-redis): it reconnects for ever with a retry strategy of ours, and lets us
 * turn off both its offline queue and its re-sending of unanswered commands, so a publish while
 * Redis is away fails at once (counted as dropped) instead of being queued without bound or sent
 * twice after a reconnect; one package with its types and five small dependencies (node-redis v5
 * pulls its module clients along).
 *
 * Health: the adapter is `up` only while the publishing connection is ready and the subscribing one
 * has confirmed its SUBSCRIBE on the current connection; at any other time broadcasts can be lost,
 * so it says `down` (socket.io#4845 and centrifugo#1189 are about a Redis adapter that stayed green
 * while it lost them). A broadcast always reaches this server's subscribers; while the publishing
 * connection is down it is not published, and is counted as dropped; a broadcast of another server
 * that never arrives here (this server's subscription was down) shows as a gap in that server's
 * sequence numbers, counted as `missed`.
 * @internal
 */
import type { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { NODE_ID_BYTES, decodeBody, encodeMessage, isFrom, senderOf, seqOf } from './message.js'
import type { RedisPubSubSettings } from './pubsub-spec.js'

/** What the adapter tells its broadcaster. */
export interface PubSubHooks {
  /** A broadcast of another server, for this server's subscribers (`dedup`: a durable event's `<stream>/<entry id>`). */
  deliver (topic: string, event: string, payload: object, ts: number | undefined, dedup: string | undefined): void
  /** `count` broadcasts of this server did not reach the other servers. */
  dropped (count: number): void
}

/** The adapter's figures, in the broadcaster's stats and health. */
export interface PubSubStats {
  adapter: 'redis'
  /** `up`: broadcasts are published and received; `down`: they may be lost (see the counts). */
  status: 'up' | 'down'
  /** This broadcaster's node id (hex, new at every start). */
  node: string
  /** The Redis channel. */
  channel: string
  /** This server's broadcasts Redis confirmed. */
  published: number
  /** This server's broadcasts not published (Redis down, or the connection dropped with them in flight). */
  dropped: number
  /** Broadcasts of other servers handed to this server's endpoint. */
  received: number
  /** Broadcasts of other servers that never arrived here (gaps in their sequence numbers). */
  missed: number
  /** Messages on the channel that were not broadcasts of this format (skipped). */
  invalid: number
  /** Times the adapter came back up after being down. */
  recoveries: number
  /** Publishes awaiting Redis's answer. */
  inFlight: number
  /** Since when it is down (ms since the epoch), null while up. */
  downSince: number | null
  /** The last connection error, if any. */
  lastError: string | null
}

/** The most publishers whose sequence numbers are remembered (each restart of a broadcaster is a new one). */
const MAX_PUBLISHERS = 1024

/**
 * Reconnect delay: 20 ms, doubling, at most a second, for ever. Short at first: broadcasts of
 * other servers are missed for as long as the subscription is down (a dropped connection to a live
 * Redis, as with CLIENT KILL, comes back on the first try).
 */
function retryStrategy (attempt: number): number {
  return Math.min(20 * 2 ** (attempt - 1), 1000)
}

/** Internal: the broadcaster builds it from its `pubsub` settings. */
export class RedisPubSub {
  readonly #settings: RedisPubSubSettings
  readonly #hooks: PubSubHooks
  readonly #node: Buffer = randomBytes(NODE_ID_BYTES)
  readonly #channel: string
  readonly #pub: Redis
  readonly #sub: Redis
  /** The SUBSCRIBE of the sub connection's current connection was confirmed. */
  #subscribed = false
  #up = false
  #closed = false
  #seq = 0
  #inFlight = 0
  /** Last sequence number seen per publisher (hex node id). */
  readonly #lastSeq = new Map<string, number>()
  #published = 0
  #dropped = 0
  #received = 0
  #missed = 0
  #invalid = 0
  #recoveries = 0
  /** It has been up at least once (so coming up again is a recovery). */
  #wasUp = false
  #downSince: number | null = Date.now()
  #lastError: string | null = null
  /** Resolved when the adapter is up (start) or when in-flight publishes fall under half the limit. */
  #upWaiters: Array<() => void> = []
  #drainWaiters: Array<() => void> = []
  /** Resolved when no publish is in flight (close). */
  #idleWaiters: Array<() => void> = []
  /** Publishes handed to the connection, and those answered (ok or failed): answers come in order. */
  #sent = 0
  #answered = 0
  /** Resolved once every publish sent before them is answered ({@link afterPublished}), oldest first. */
  #answerWaiters: Array<{ target: number, resolve: () => void }> = []

  constructor (settings: RedisPubSubSettings, hooks: PubSubHooks) {
    this.#settings = settings
    this.#hooks = hooks
    this.#channel = `${settings.prefix}broadcast`
    const options: RedisOptions = {
      retryStrategy,
      connectTimeout: settings.connectTimeoutMs,
      // Fail, never queue: a broadcast that cannot be published now is dropped and counted.
      enableOfflineQueue: false,
      // An unanswered PUBLISH may have been delivered: re-sending it could deliver it twice.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // Re-subscribing is ours to do and to track (#onSubReady), so health knows when it is done.
      autoResubscribe: false,
      lazyConnect: true,
    }
    // The publishes of one tick leave in one write (ioredis keeps their order on the connection).
    this.#pub = new Redis(settings.url, { ...options, enableAutoPipelining: true, connectionName: 'stagewire-pub' })
    this.#sub = new Redis(settings.url, { ...options, connectionName: 'stagewire-sub' })
    this.#pub.on('error', this.#onError)
    this.#sub.on('error', this.#onError)
    this.#pub.on('ready', this.#update)
    this.#pub.on('close', this.#update)
    this.#sub.on('ready', this.#onSubReady)
    this.#sub.on('close', this.#onSubClose)
    this.#sub.on('messageBuffer', this.#onMessage)
  }

  /**
   * Connects, and waits until the adapter is up or `connectTimeoutMs` has passed: then it carries
   * on connecting in the background and reports itself down meanwhile.
   */
  async start (): Promise<void> {
    // lazyConnect + connect(): a first failure rejects here but reconnecting goes on regardless.
    this.#pub.connect().catch(this.#onError)
    this.#sub.connect().catch(this.#onError)
    if (this.#up) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      this.#upWaiters.push(resolve)
      timer = setTimeout(resolve, this.#settings.connectTimeoutMs)
    })
    clearTimeout(timer)
  }

  /** True while broadcasts are published and received. */
  get up (): boolean {
    return this.#up
  }

  /**
   * Publishes a broadcast this server has delivered to its own subscribers. With the publishing
   * connection down it is counted as dropped at once, as is a payload MessagePack cannot encode.
   * Never throws.
   */
  publish (topic: string, event: string, payload: object, ts: number | undefined, dedup?: string): void {
    // The publishing connection alone decides: with only this server's subscription down, the
    // others still receive what it publishes (health says down all the same: it misses theirs).
    if (this.#closed || this.#pub.status !== 'ready') {
      this.#dropped++
      this.#hooks.dropped(1)
      return
    }
    let message: Buffer
    try {
      message = encodeMessage(this.#node, this.#seq + 1, topic, event, payload, ts, dedup)
    } catch (err) {
      // JSON took it (it reached this server's subscribers) but MessagePack does not: counted, not thrown.
      this.#lastError = `a payload MessagePack cannot encode: ${(err as Error).message}`
      this.#dropped++
      this.#hooks.dropped(1)
      return
    }
    this.#seq++
    this.#inFlight++
    this.#sent++
    this.#pub.publish(this.#channel, message).then(this.#onPublished, this.#onPublishFailed)
  }

  /**
   * Undefined when no publish is in flight, else a promise that resolves once every publish made so
   * far has been answered (published, or failed and counted): the broadcaster acknowledges a durable
   * event only after that (lib/queue/stream-acker.ts). Never rejects.
   */
  afterPublished (): Promise<void> | undefined {
    if (this.#answered >= this.#sent) return undefined
    const target = this.#sent
    return new Promise((resolve) => this.#answerWaiters.push({ target, resolve }))
  }

  /** Undefined, or a promise that resolves once in-flight publishes are under half of `maxInFlight`. */
  drained (): Promise<void> | undefined {
    if (this.#inFlight < this.#settings.maxInFlight) return undefined
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  stats (): PubSubStats {
    return {
      adapter: 'redis',
      status: this.#up ? 'up' : 'down',
      node: this.#node.toString('hex'),
      channel: this.#channel,
      published: this.#published,
      dropped: this.#dropped,
      received: this.#received,
      missed: this.#missed,
      invalid: this.#invalid,
      recoveries: this.#recoveries,
      inFlight: this.#inFlight,
      downSince: this.#downSince,
      lastError: this.#lastError,
    }
  }

  /** Waits (a second at most) for in-flight publishes, then closes both connections. */
  async close (): Promise<void> {
    this.#closed = true
    if (this.#inFlight > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve)
        timer = setTimeout(resolve, 1000)
      })
      clearTimeout(timer)
    }
    this.#pub.disconnect()
    this.#sub.disconnect()
    this.#update()
    this.#release(this.#upWaiters)
    this.#release(this.#drainWaiters)
    this.#release(this.#idleWaiters)
    for (const waiter of this.#answerWaiters.splice(0)) waiter.resolve()
  }

  readonly #onError = (err: Error): void => {
    // ioredis prints an 'error' nobody listens to; here it is kept for health instead.
    this.#lastError = err.message
  }

  readonly #onSubReady = (): void => {
    this.#sub.subscribe(this.#channel).then(() => {
      this.#subscribed = this.#sub.status === 'ready'
      this.#update()
    }, this.#onError)
  }

  readonly #onSubClose = (): void => {
    this.#subscribed = false
    this.#update()
  }

  /** Recomputes up/down from both connections; counts recoveries and wakes start(). */
  readonly #update = (): void => {
    const up = !this.#closed && this.#subscribed && this.#pub.status === 'ready'
    if (up === this.#up) return
    this.#up = up
    if (up) {
      if (this.#wasUp) this.#recoveries++
      this.#wasUp = true
      this.#downSince = null
      this.#release(this.#upWaiters)
    } else {
      this.#downSince = Date.now()
    }
  }

  readonly #onPublished = (): void => {
    this.#published++
    this.#settled()
  }

  readonly #onPublishFailed = (err: Error): void => {
    this.#lastError = err.message
    this.#dropped++
    this.#hooks.dropped(1)
    this.#settled()
  }

  #settled (): void {
    this.#inFlight--
    this.#answered++
    while (this.#answerWaiters.length > 0 && (this.#answerWaiters[0] as { target: number }).target <= this.#answered) {
      (this.#answerWaiters.shift() as { resolve: () => void }).resolve()
    }
    if (this.#drainWaiters.length > 0 && this.#inFlight <= this.#settings.maxInFlight / 2) this.#release(this.#drainWaiters)
    if (this.#inFlight === 0 && this.#idleWaiters.length > 0) this.#release(this.#idleWaiters)
  }

  readonly #onMessage = (_channel: Buffer, message: Buffer): void => {
    if (isFrom(message, this.#node)) return // delivered here already, before it was published
    const sender = senderOf(message)
    if (sender === undefined) {
      this.#invalid++
      return
    }
    const seq = seqOf(message)
    const last = this.#lastSeq.get(sender)
    if (last === undefined) {
      if (this.#lastSeq.size >= MAX_PUBLISHERS) this.#lastSeq.delete(this.#lastSeq.keys().next().value as string)
    } else if (seq > last + 1) {
      this.#missed += seq - last - 1
    }
    this.#lastSeq.set(sender, seq)
    let broadcast
    try {
      broadcast = decodeBody(message)
    } catch {
      broadcast = undefined
    }
    if (broadcast === undefined) {
      this.#invalid++
      return
    }
    this.#received++
    try {
      this.#hooks.deliver(broadcast.topic, broadcast.event, broadcast.payload, broadcast.ts, broadcast.dedup)
    } catch {
      // A payload this endpoint cannot serialise (its publisher could): not for this server's clients.
      this.#invalid++
    }
  }

  #release (waiters: Array<() => void>): void {
    const list = waiters.splice(0)
    for (const resolve of list) resolve()
  }
}
