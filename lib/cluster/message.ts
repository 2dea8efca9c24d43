/**
 * One broadcast on the Redis channel, as bytes: a fixed header the receiver reads without decoding
 * anything, then the broadcast in MessagePack (msgpackr), encoded once by the publishing server.
 *
 * ```
 *  0      1                 17              25
 *  ┌──────┬─────────────────┬───────────────┬──────────────────────────────────────┐
 *  │ v=1  │ node id (16 B)  │ seq (f64 BE)  │ msgpack [topic, event, payload, ts(, dedup)] │
 *  └──────┴─────────────────┴───────────────┴──────────────────────────────────────┘
 * ```
 *
 * - the node id (random per broadcaster instance) lets a server skip its own broadcasts with a
 *   16-byte compare, before any decoding: it has already delivered them to its own subscribers;
 * - `seq` counts the node's publishes from 1; a receiver that sees a gap knows how many of that
 *   node's broadcasts it missed (while its subscription was down), instead of losing them silently;
 * - `dedup`, only for an event of a durable queue: `<stream>/<entry id>`, so that a server that
 *   later claims that entry (its first reader died before acknowledging it) can see that its
 *   clients had it already (lib/builtins/broadcaster.ts);
 * - plain msgpack maps (`useRecords: false`): no structure shared between processes is needed, and
 *   a subscriber in another language can read it.
 * @internal
 */
import { Buffer } from 'node:buffer'
import { Packr } from 'msgpackr'

/** The format version, first byte of every message. */
export const MESSAGE_VERSION = 1
/** Bytes of a node id. */
export const NODE_ID_BYTES = 16
/** Bytes before the msgpack body. */
export const HEADER_BYTES = 1 + NODE_ID_BYTES + 8

/** A broadcast as it travels between servers. */
export interface ClusterBroadcast {
  topic: string
  event: string
  payload: object
  /** The event's push time (`performance.timeOrigin + performance.now()` on the publishing server). */
  ts: number | undefined
  /** A durable event's `<stream>/<entry id>` (absent for the others). */
  dedup?: string
}

const packr = new Packr({ useRecords: false })

/**
 * The message for one broadcast: header and body in one new Buffer (msgpackr's `pack` returns a
 * view into a buffer it reuses, so the body is copied out once, here).
 * @throws whatever msgpackr throws for a payload it cannot encode.
 */
export function encodeMessage (node: Buffer, seq: number, topic: string, event: string, payload: object, ts: number | undefined, dedup?: string): Buffer {
  const body = packr.pack(dedup === undefined ? [topic, event, payload, ts ?? null] : [topic, event, payload, ts ?? null, dedup])
  const message = Buffer.allocUnsafe(HEADER_BYTES + body.length)
  message[0] = MESSAGE_VERSION
  node.copy(message, 1, 0, NODE_ID_BYTES)
  message.writeDoubleBE(seq, 1 + NODE_ID_BYTES)
  body.copy(message, HEADER_BYTES)
  return message
}

/** True when `message` was published by `node` (checked on the header alone). */
export function isFrom (message: Buffer, node: Buffer): boolean {
  return message.length >= HEADER_BYTES && message.compare(node, 0, NODE_ID_BYTES, 1, 1 + NODE_ID_BYTES) === 0
}

/** The publisher of `message` (hex), or undefined when it is not a message of this format. */
export function senderOf (message: Buffer): string | undefined {
  if (message.length < HEADER_BYTES || message[0] !== MESSAGE_VERSION) return undefined
  return message.toString('hex', 1, 1 + NODE_ID_BYTES)
}

/** The publisher's sequence number of `message` (call after {@link senderOf}). */
export function seqOf (message: Buffer): number {
  return message.readDoubleBE(1 + NODE_ID_BYTES)
}

/** Decodes the body; undefined when it is not a broadcast. */
export function decodeBody (message: Buffer): ClusterBroadcast | undefined {
  const body = packr.unpack(message.subarray(HEADER_BYTES)) as unknown
  if (!Array.isArray(body) || (body.length !== 4 && body.length !== 5)) return undefined
  const [topic, event, payload, ts, dedup] = body as [unknown, unknown, unknown, unknown, unknown]
  if (typeof topic !== 'string' || typeof event !== 'string' || typeof payload !== 'object' || payload === null) return undefined
  const broadcast: ClusterBroadcast = { topic, event, payload, ts: typeof ts === 'number' ? ts : undefined }
  if (typeof dedup === 'string') broadcast.dedup = dedup
  return broadcast
}
