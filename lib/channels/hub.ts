/**
 * The inside of an endpoint, apart from HTTP: the topic index, the fan-out, the flush scheduler,
 * the idle sweep and the counters. One per endpoint; connections and channels reach it through
 * the small interfaces they declare ({@link ConnectionHub}, `ChannelHub`).
 *
 * ```
 *   broadcast(topic, event, payload)
 *     │ topics: topic ─► Set<Channel>
 *     ├─ event intercepted by the topic's module ─► channel.deliver() each (handleOut, own copy)
 *     └─ otherwise: encode ONCE ─► conn.enqueue(same bytes) each ─► markDirty(conn)
 *                                                                     │
 *   setImmediate ─► flush slice: up to sliceSize dirty connections, one corked write each ─┐
 *                   more left? yield (setImmediate) so heartbeats and joins get a turn ◄───┘
 * ```
 *
 * Why slices: a socket write is a system call and dominates fan-out (10-14 µs per delivery measured
 * here, ~73% in the kernel); a plain loop over 10,000 sockets blocks the event loop ~130 ms. Slices of
 * 256 connections keep each turn to a few ms. Enqueueing is cheap (an array push), so it is not sliced:
 * the frame order of every connection is fixed at broadcast time.
 */
import type { EventEmitter } from 'eventemitter3'
import { InvalidArgumentError } from '../errors.js'
import { now } from '../stage/envelope.js'
import type { Channel, ChannelRoute } from './channel.js'
import type { Connection, ConnectionHub } from './connection.js'
import { CLOSE_CODES, DISCONNECT_REASONS } from './events.js'
import type {
  ConnectionInfo, DisconnectReason, EndpointDrops, EndpointEvents, EndpointStats,
} from './events.js'
import { wireFrame } from './outbound.js'
import type { LatencySink, OutboundPolicy } from './outbound.js'
import { checkEventName, encodeBinaryBroadcast, encodeBroadcastBytes } from './serializer.js'
import type { CompiledRoutes } from './topics.js'

/** Settings of a hub, validated by the endpoint. @internal */
export interface HubSettings {
  routes: CompiledRoutes<ChannelRoute>
  maxChannels: number
  outboundLimit: number
  policy: OutboundPolicy
  mailboxSize: number
  sliceSize: number
  idleTimeoutMs: number
}

interface TopicEntry {
  readonly route: ChannelRoute
  readonly channels: Set<Channel>
}

// The idle sweep runs every quarter of the timeout, so a silent socket is closed between 1x and
// 1.25x the timeout; at most every 5 s, since one pass over 10,000 connections is ~0.1 ms anyway.
const SWEEP_MAX_MS = 5000
const SWEEP_MIN_MS = 10
/** How often `writable()` looks again while a client is behind. */
const WRITABLE_POLL_MS = 2
// Past this many processed entries the dirty list is compacted, so sustained load cannot grow it.
const DIRTY_COMPACT_AT = 4096

/**
 * The endpoint's insides (see the module comment). Only `broadcast` throws, on bad arguments.
 *
 * @internal
 */
export class Hub implements ConnectionHub {
  readonly routes: CompiledRoutes<ChannelRoute>
  readonly maxChannels: number
  readonly outboundLimit: number
  readonly policy: OutboundPolicy
  readonly mailboxSize: number
  readonly events: EventEmitter<EndpointEvents>
  readonly counters = { broadcasts: 0, fanout: 0, messagesSent: 0, delivered: 0, bytesSent: 0, writes: 0, slices: 0, refused: 0 }
  /** Push-to-write latency of timed broadcasts; set by whoever collects metrics. */
  latency: LatencySink | null = null
  flushTime = 0
  readonly drops: EndpointDrops = { dropped_oldest: 0, conflated: 0, dropped_newest: 0, mailbox_full: 0 }
  readonly disconnects = Object.fromEntries(DISCONNECT_REASONS.map((r) => [r, 0])) as Record<DisconnectReason, number>
  readonly connections = new Map<string, Connection>()
  readonly #topics = new Map<string, TopicEntry>()
  readonly #sliceSize: number
  readonly #idleTimeoutMs: number
  #live = 0
  #dirty: Connection[] = []
  #next = 0
  #immediate: ReturnType<typeof setImmediate> | null = null
  #sweep: ReturnType<typeof setInterval> | null = null
  #onEmpty: (() => void) | null = null
  /** Set by shutdown(): `writable()` waits no longer. */
  #shuttingDown = false
  /** When (performance.now()) `writable()` last let go of a client that outlasted its grace; 0: never. */
  #lastReleaseAt = 0
  /** The mark of the last `writable()` call: a connection that drains below it is no longer behind. */
  writableMark = Number.POSITIVE_INFINITY
  /** Resolvers of `flushed()`, called once no connection is left to write. */
  #onFlushed: Array<() => void> = []

  constructor (settings: HubSettings, events: EventEmitter<EndpointEvents>) {
    this.routes = settings.routes
    this.maxChannels = settings.maxChannels
    this.outboundLimit = settings.outboundLimit
    this.policy = settings.policy
    this.mailboxSize = settings.mailboxSize
    this.#sliceSize = settings.sliceSize
    this.#idleTimeoutMs = settings.idleTimeoutMs
    this.events = events
  }

  /** Starts the idle sweep. */
  start (): void {
    if (this.#sweep !== null) return
    const period = Math.max(SWEEP_MIN_MS, Math.min(SWEEP_MAX_MS, Math.floor(this.#idleTimeoutMs / 4)))
    this.#sweep = setInterval(this.#sweepIdle, period)
    // The listening server keeps the process alive; this timer alone must not.
    this.#sweep.unref()
  }

  /** Registers an accepted connection. */
  add (conn: Connection): void {
    this.connections.set(conn.id, conn)
    this.events.emit('socket:connected', { id: conn.id, assigns: conn.assigns })
  }

  /**
   * Fans an event out to the subscribers of `topic`; returns how many there were.
   *
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` topic or event is not a non-empty string,
   *   or the payload is neither a plain object nor bytes, or cannot be serialised.
   */
  broadcast (topic: string, event: string, payload: object | Uint8Array, ts = 0, remote = false): number {
    if (typeof topic !== 'string' || topic.length === 0) throw new InvalidArgumentError(`topic must be a non-empty string, got ${describe(topic)}`)
    checkEventName(event)
    this.counters.broadcasts++
    const entry = this.#topics.get(topic)
    // Nobody listening: not even serialised. (A bad payload is then not noticed; that is the price.)
    if (entry === undefined) return 0
    const channels = entry.channels
    const count = channels.size
    this.counters.fanout += count
    if (entry.route.intercept?.has(event) === true) {
      for (const channel of channels) {
        if (!channel.deliver(event, payload)) this.drops.mailbox_full++
      }
      return count
    }
    const binary = payload instanceof Uint8Array
    // Serialised and framed once: every subscriber's socket gets these same bytes.
    const frame = wireFrame(binary ? encodeBinaryBroadcast(topic, event, payload) : encodeBroadcastBytes(topic, event, payload), binary)
    const bytes = frame.bytes.length
    // A connection closed by its policy mid-loop leaves the Set; Set iteration tolerates that.
    for (const channel of channels) (channel.connection as Connection).enqueue(frame, bytes, topic, binary, ts, remote)
    return count
  }

  subscribe (channel: Channel): void {
    let entry = this.#topics.get(channel.topic)
    if (entry === undefined) {
      entry = { route: channel.route, channels: new Set() }
      this.#topics.set(channel.topic, entry)
    }
    entry.channels.add(channel)
  }

  unsubscribe (channel: Channel): void {
    const entry = this.#topics.get(channel.topic)
    if (entry === undefined) return
    entry.channels.delete(channel)
    if (entry.channels.size === 0) this.#topics.delete(channel.topic)
  }

  started (_channel: Channel): void {
    this.#live++
  }

  released (_channel: Channel): void {
    this.#live--
    this.#checkEmpty()
  }

  markDirty (conn: Connection): void {
    conn.dirty = true
    this.#dirty.push(conn)
    if (this.#immediate === null) this.#immediate = setImmediate(this.#flushSlice)
  }

  closed (conn: Connection, reason: DisconnectReason, code: number, message: string, error: unknown): void {
    if (!this.connections.delete(conn.id)) return
    this.disconnects[reason]++
    const event: EndpointEvents['socket:closed'][0] = { id: conn.id, reason, code, message }
    if (error !== undefined) event.error = error
    this.events.emit('socket:closed', event)
    this.#checkEmpty()
  }

  /** Live channel actors. */
  get liveChannels (): number { return this.#live }

  stats (): EndpointStats {
    let pending = 0
    let max = 0
    for (const conn of this.connections.values()) {
      const bytes = conn.pendingBytes
      pending += bytes
      if (bytes > max) max = bytes
    }
    return {
      connections: this.connections.size,
      channels: this.#live,
      topics: this.#topics.size,
      ...this.counters,
      drops: { ...this.drops },
      disconnects: { ...this.disconnects },
      pendingBytes: pending,
      maxPendingBytes: max,
    }
  }

  connectionInfos (): ConnectionInfo[] {
    const out: ConnectionInfo[] = []
    for (const conn of this.connections.values()) {
      out.push({
        id: conn.id,
        assigns: conn.assigns,
        topics: [...conn.channels.keys()],
        pendingBytes: conn.pendingBytes,
        peakPendingBytes: conn.peakBytes,
        drops: conn.drops,
        offered: conn.offered,
        offeredRemote: conn.offeredRemote,
      })
    }
    return out
  }

  /**
   * Closes every connection (1001) and waits for the sockets to close and the channels to finish
   * `terminate`, up to `timeoutMs`; then terminates the sockets still open and waits, again at most
   * `timeoutMs`, for the rest. Leaves no timer and no immediate behind.
   */
  async shutdown (timeoutMs: number): Promise<void> {
    this.#shuttingDown = true
    if (this.#sweep !== null) clearInterval(this.#sweep)
    this.#sweep = null
    for (const conn of this.connections.values()) conn.close(CLOSE_CODES.shutdown, 'shutdown', 'server shutting down')
    if (!(await this.#whenEmpty(timeoutMs))) {
      for (const conn of this.connections.values()) conn.terminate()
      await this.#whenEmpty(timeoutMs)
    }
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    this.#immediate = null
    this.#dirty = []
    this.#next = 0
    this.#settleFlushed()
  }

  /** Writes the next slice of dirty connections; yields to the event loop if more remain. */
  readonly #flushSlice = (): void => {
    this.#immediate = null
    this.flushTime = now()
    const list = this.#dirty
    let i = this.#next
    const end = Math.min(list.length, i + this.#sliceSize)
    for (; i < end; i++) {
      const conn = list[i] as Connection
      try {
        conn.flush()
      } catch (err) {
        conn.fail(err)
      }
    }
    this.counters.slices++
    if (i < list.length) {
      if (i >= DIRTY_COMPACT_AT) {
        list.splice(0, i)
        i = 0
      }
      this.#next = i
      this.#immediate = setImmediate(this.#flushSlice)
    } else {
      list.length = 0
      this.#next = 0
      this.#settleFlushed()
    }
  }

  /**
   * Resolves once every frame queued so far has been handed to its socket (or dropped by its
   * outbound policy): what a broadcaster waits on before it asks its producers for more, so demand
   * follows what the sockets take rather than what the hub can queue.
   */
  flushed (): Promise<void> {
    if (this.#immediate === null) return Promise.resolve()
    return new Promise((resolve) => { this.#onFlushed.push(resolve) })
  }

  /**
   * Resolves once no connection holds more than `highWaterBytes` pending, not counting those that
   * have held more for longer than `graceMs`: a stalled client holds its sender back that long
   * once, then is left to its outbound policy. After such a release, no client holds the sender
   * for the next `graceMs`: clients that stalled together cross the mark one after another (each
   * as its socket's buffers fill), and each holding its own full grace would add their stalls up —
   * ten stalled clients stopped everyone else for ~9 s in a review. So stalls cost the others at
   * most `graceMs` in every `2 × graceMs`, however many clients stall. Polled (every {@link WRITABLE_POLL_MS} ms) rather
   * than tracked per write: a check is one pass over the connections, and it only repeats while
   * some client is behind.
   */
  writable (highWaterBytes: number, graceMs: number): Promise<void> {
    if (!this.#behind(highWaterBytes, graceMs)) return Promise.resolve()
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#shuttingDown || !this.#behind(highWaterBytes, graceMs)) resolve()
        else setTimeout(check, WRITABLE_POLL_MS)
      }
      setTimeout(check, WRITABLE_POLL_MS)
    })
  }

  #behind (highWaterBytes: number, graceMs: number): boolean {
    const at = performance.now()
    const coolingDown = this.#lastReleaseAt !== 0 && at - this.#lastReleaseAt < graceMs
    this.writableMark = highWaterBytes
    let behind = false
    let released = false
    for (const conn of this.connections.values()) {
      if (conn.pendingBytes <= highWaterBytes) {
        conn.underMark()
      } else {
        if (conn.overSince === 0) conn.overSince = at
        if (at - conn.overSince <= graceMs) {
          if (!coolingDown) behind = true
        } else if (!conn.released) {
          conn.released = true
          released = true
        }
      }
    }
    if (released) this.#lastReleaseAt = at
    return behind
  }

  #settleFlushed (): void {
    if (this.#onFlushed.length === 0) return
    const waiting = this.#onFlushed
    this.#onFlushed = []
    for (const resolve of waiting) resolve()
  }

  readonly #sweepIdle = (): void => {
    const deadline = Date.now() - this.#idleTimeoutMs
    for (const conn of this.connections.values()) {
      if (conn.lastSeen < deadline && !conn.isClosed) {
        conn.close(CLOSE_CODES.idleTimeout, 'idle_timeout', `idle timeout: nothing received for ${this.#idleTimeoutMs} ms`)
      }
    }
  }

  #whenEmpty (timeoutMs: number): Promise<boolean> {
    if (this.connections.size === 0 && this.#live === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onEmpty = null
        resolve(false)
      }, timeoutMs)
      this.#onEmpty = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
  }

  #checkEmpty (): void {
    if (this.#onEmpty !== null && this.connections.size === 0 && this.#live === 0) {
      const done = this.#onEmpty
      this.#onEmpty = null
      done()
    }
  }
}

function describe (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value
}
