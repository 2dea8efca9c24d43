/**
 * One connection's outbound queue: the frames waiting for its next write, bounded in bytes together
 * with what its socket already holds, and the policy applied when the bound is hit.
 *
 * ```
 *   broadcast / reply / push
 *        │ offer(frame, bytes, key, bufferedAmount)
 *        ▼
 *   [ pending frames ]  ── flush: one corked write per tick ──►  [ ws + socket buffer ]  ──► kernel
 *     ours: still droppable,                                       bufferedAmount: gone from
 *     conflatable by key                                           our hands, only counted
 *   └────────────── pending bytes + bufferedAmount ≤ limit, always ──────────────┘
 * ```
 *
 * A frame's `bytes` include its WebSocket header, so the bound is on what the socket will hold.
 * When a frame does not fit, the policy decides:
 *
 * - `drop-oldest`: pending frames are dropped, oldest first, until it fits. Bytes already handed to
 *   the socket cannot be recalled, so when nothing pending is left to drop and it still does not
 *   fit, the new frame is dropped (`dropped_newest`): the socket buffer is full of older data.
 * - `conflate`: first the pending frames with the same key (the topic) are dropped, keeping only the
 *   newest message per topic; then, if it still does not fit, as `drop-oldest`. Frames without a key
 *   (replies, heartbeats, channel errors) are never conflated.
 * - `disconnect`: nothing is dropped; {@link OVER_LIMIT} tells the caller to close the connection.
 *
 * Pure data structure: no sockets, no timers; the connection applies it and the tests drive it directly.
 */
import { Buffer } from 'node:buffer'

/** What to do when a connection's outbound bytes would exceed its limit. */
export type OutboundPolicy = 'drop-oldest' | 'conflate' | 'disconnect'

/** Every {@link OutboundPolicy}, for validation and messages. */
export const OUTBOUND_POLICIES: readonly OutboundPolicy[] = ['drop-oldest', 'conflate', 'disconnect']

/**
 * A broadcast frame already framed for the wire: WebSocket header and payload in one Buffer. A
 * server's frames are not masked, so the same bytes serve every subscriber: they are built once per
 * broadcast ({@link wireFrame}) and written to each socket as they are, one `write` each, where
 * `ws.send` would build a header per client and write header and payload as two buffers.
 */
export class WireFrame {
  constructor (readonly bytes: Buffer) {}
}

/** A frame: a JSON text (string or its UTF-8 bytes) or binary frame for ws to frame, or a {@link WireFrame}. */
export type Frame = string | Buffer | WireFrame

/** Where a queue writes its frames: a connection, which hands them to ws or, framed, to its socket. */
export interface FrameSink {
  /** Hands a frame to ws, which frames and writes it. */
  sendFrame(data: string | Buffer, options: { binary: boolean }): void
  /** Writes a {@link WireFrame}'s bytes to the socket unchanged. */
  writeFramed(bytes: Buffer): void
}

/** Drops counted by reason, across connections (the endpoint's stats hold one of these). */
export interface DropCounters {
  /** Pending frames dropped to make room for newer ones. */
  dropped_oldest: number
  /** Pending frames replaced by a newer message of the same topic (`conflate`). */
  conflated: number
  /** New frames dropped because the socket alone already held the limit. */
  dropped_newest: number
}

/** Where the push-to-write latency of each broadcast frame is recorded as it is written. */
export interface LatencySink {
  /** One delivery, `ms` after its event's push. */
  record(ms: number): void
}

/** Returned by {@link OutboundQueue.offer} under the `disconnect` policy when the frame does not fit. */
export const OVER_LIMIT = -1

// Slots a queue keeps for reuse once emptied; a larger backlog's arrays are dropped with it.
const REUSE_MAX_SLOTS = 64

// Created once: ws spreads its defaults over these on every send and never keeps them.
const TEXT = { binary: false }
const BINARY = { binary: true }

/**
 * Bytes of an unmasked (server to client) WebSocket frame header for a payload of `payloadBytes`
 * (RFC 6455 section 5.2: 2 bytes, plus 2 or 8 for the extended length).
 *
 * @throws never.
 */
export function frameHeaderBytes (payloadBytes: number): number {
  return payloadBytes < 126 ? 2 : payloadBytes < 65_536 ? 4 : 10
}

/** Frames `payload` as one final, unmasked WebSocket message (RFC 6455 §5.2): text, or binary. */
export function wireFrame (payload: Buffer, binary: boolean): WireFrame {
  const n = payload.length
  const header = frameHeaderBytes(n)
  const bytes = Buffer.allocUnsafe(header + n)
  bytes[0] = 0x80 | (binary ? 0x2 : 0x1)
  if (n < 126) {
    bytes[1] = n
  } else if (n < 65_536) {
    bytes[1] = 126
    bytes.writeUInt16BE(n, 2)
  } else {
    bytes[1] = 127
    bytes.writeUInt32BE(Math.floor(n / 2 ** 32), 2)
    bytes.writeUInt32BE(n >>> 0, 6)
  }
  payload.copy(bytes, header)
  return new WireFrame(bytes)
}

/**
 * A FIFO of frames with their sizes and conflation keys, bounded by the caller's limit.
 * Dropped frames in the middle (conflation) are left as holes and skipped; the arrays are
 * compacted when holes outnumber live frames, so a stalled client cannot grow them without bound.
 */
export class OutboundQueue {
  // Parallel arrays rather than an object per frame: a broadcast to 10,000 subscribers would
  // otherwise allocate 10,000 short-lived objects.
  #data: Array<Frame | null> = []
  #size: number[] = []
  #key: Array<string | null> = []
  #binary: boolean[] = []
  /** The event's push time for broadcast frames (ms epoch), 0 for replies and pushes. */
  #ts: number[] = []
  #head = 0
  /** One past the last slot in use: the arrays are reused, not truncated (see `clear`). */
  #end = 0
  #live = 0
  #holes = 0
  #bytes = 0

  /** Frames pending. */
  get length (): number { return this.#live }

  /** Bytes pending, WebSocket headers included. */
  get bytes (): number { return this.#bytes }

  /**
   * Queues a frame if it fits under `limit` together with what is pending and `buffered` (the
   * bytes the socket already holds), applying `policy` when it does not.
   *
   * @param bytes the frame's size on the wire, header included ({@link frameHeaderBytes}).
   * @param key the conflation key (the topic), or null for a frame that must not be conflated.
   * @param drops incremented by reason for every frame dropped.
   * @param ts the push time of the event a broadcast frame carries (0: not a timed event).
   * @returns the number of frames dropped (the new one included when it was dropped), or
   *   {@link OVER_LIMIT} under `disconnect` when the frame does not fit (nothing queued, nothing dropped).
   * @throws never.
   */
  offer (data: Frame, bytes: number, key: string | null, binary: boolean, buffered: number, limit: number,
    policy: OutboundPolicy, drops: DropCounters, ts = 0): number {
    if (this.#bytes + bytes + buffered <= limit) {
      this.#push(data, bytes, key, binary, ts)
      return 0
    }
    if (policy === 'disconnect') return OVER_LIMIT
    let dropped = 0
    if (policy === 'conflate' && key !== null) {
      const conflated = this.#dropKey(key)
      drops.conflated += conflated
      dropped += conflated
    }
    while (this.#live > 0 && this.#bytes + bytes + buffered > limit) {
      this.#dropOldest()
      drops.dropped_oldest++
      dropped++
    }
    if (this.#bytes + bytes + buffered > limit) {
      drops.dropped_newest++
      return dropped + 1
    }
    this.#push(data, bytes, key, binary, ts)
    return dropped
  }

  /**
   * Sends every pending frame to `sink`, oldest first, and empties the queue. The caller corks the
   * socket around this call, so the frames leave in one write.
   *
   * Each timed frame (a broadcast of a pushed event) is recorded in `latency` as `now - ts`.
   *
   * @returns the frames written; `timed` of them were timed deliveries.
   * @throws whatever `sink.send` throws (ws does not, on an open socket).
   */
  writeTo (sink: FrameSink, latency: LatencySink | null = null, now = 0): { written: number, timed: number } {
    const data = this.#data
    const binary = this.#binary
    const stamps = this.#ts
    const end = this.#end
    let written = 0
    let timed = 0
    for (let i = this.#head; i < end; i++) {
      const frame = data[i] as Frame | null
      if (frame === null) continue
      if (frame instanceof WireFrame) sink.writeFramed(frame.bytes)
      else sink.sendFrame(frame, binary[i] === true ? BINARY : TEXT)
      written++
      const ts = stamps[i] as number
      if (ts > 0) {
        timed++
        latency?.record(now - ts)
      }
    }
    this.clear()
    return { written, timed }
  }

  /** Drops everything pending without counting it (the connection is gone). @throws never. */
  clear (): void {
    // The arrays are emptied in place, not truncated: V8 frees an array's backing store on
    // `length = 0`, so every broadcast would allocate five new arrays per connection (measured: a
    // queue's offer + write 0.5-0.7 µs with truncation, 0.04 µs reused, 10,000 queues). Slots are
    // nulled so written frames can be collected; a backlog's large arrays are not kept.
    const data = this.#data
    if (data.length > REUSE_MAX_SLOTS) {
      this.#data = []
      this.#size = []
      this.#key = []
      this.#binary = []
      this.#ts = []
    } else {
      const keys = this.#key
      for (let i = this.#head; i < this.#end; i++) {
        data[i] = null
        keys[i] = null
      }
    }
    this.#head = 0
    this.#end = 0
    this.#live = 0
    this.#holes = 0
    this.#bytes = 0
  }

  #push (data: Frame, bytes: number, key: string | null, binary: boolean, ts: number): void {
    const i = this.#end++
    this.#data[i] = data
    this.#size[i] = bytes
    this.#key[i] = key
    this.#binary[i] = binary
    this.#ts[i] = ts
    this.#live++
    this.#bytes += bytes
  }

  #dropOldest (): void {
    const data = this.#data
    let i = this.#head
    while (data[i] === null) { i++; this.#holes-- }
    this.#bytes -= this.#size[i] as number
    data[i] = null
    this.#key[i] = null
    this.#live--
    this.#head = i + 1
    if (this.#live === 0) this.clear()
    else if (this.#head > 1024 && this.#head * 2 > this.#end) this.#compact()
  }

  /** Drops every pending frame with `key`; returns how many. */
  #dropKey (key: string): number {
    const data = this.#data
    const keys = this.#key
    let dropped = 0
    for (let i = this.#head; i < this.#end; i++) {
      if (keys[i] !== key || data[i] === null) continue
      this.#bytes -= this.#size[i] as number
      data[i] = null
      keys[i] = null
      dropped++
    }
    this.#live -= dropped
    this.#holes += dropped
    if (this.#live === 0) this.clear()
    else if (this.#holes > 32 && this.#holes > this.#live) this.#compact()
    return dropped
  }

  /** Rewrites the arrays without the dropped head and the holes. */
  #compact (): void {
    const data: Array<Frame | null> = []
    const size: number[] = []
    const key: Array<string | null> = []
    const binary: boolean[] = []
    const ts: number[] = []
    for (let i = this.#head; i < this.#end; i++) {
      const frame = this.#data[i] as Frame | null
      if (frame === null) continue
      data.push(frame)
      size.push(this.#size[i] as number)
      key.push(this.#key[i] as string | null)
      binary.push(this.#binary[i] as boolean)
      ts.push(this.#ts[i] as number)
    }
    this.#data = data
    this.#size = size
    this.#key = key
    this.#binary = binary
    this.#ts = ts
    this.#head = 0
    this.#end = data.length
    this.#holes = 0
  }
}
