/**
 * The Phoenix Channels V2 serializer: what goes over the WebSocket, both ways.
 *
 * A text frame is a JSON array of five elements (Phoenix's `V2.JSONSerializer`, and the
 * `phoenix` npm client's `serializer.js`, which are the two ends we must match):
 *
 * ```
 *   [ join_ref , ref , topic , event , payload ]
 *     string|null      string string  JSON object
 *          string|null
 *
 *   client -> server  ["1","1","room:lobby","phx_join",{}]            join (join_ref === ref)
 *                     [null,"2","phoenix","heartbeat",{}]             heartbeat
 *                     ["1","3","room:lobby","new_msg",{"body":"hi"}]  push
 *   server -> client  ["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]
 *                     [null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]
 *                     [null,null,"room:lobby","new_msg",{...}]        broadcast (fastlane)
 *                     ["1","1","room:lobby","phx_error",{}]           channel crashed
 * ```
 *
 * A broadcast carries `join_ref: null`: the client drops a message whose `join_ref` is set and
 * differs from its channel's current join (a rejoin changes it), and a broadcast is serialised once
 * for every subscriber, whatever their join. Per-client pushes carry the subscriber's `join_ref`.
 *
 * Binary frames (the client sends one when a push's payload is an `ArrayBuffer`) start with a kind
 * byte and one length byte per string field; every string field is at most 255 bytes:
 *
 * ```
 *   client push  0 | jr_len ref_len topic_len event_len | join_ref ref topic event | payload...
 *   server push  0 | jr_len topic_len event_len         | join_ref topic event     | payload...
 *   reply        1 | jr_len ref_len topic_len status_len | join_ref ref topic status | payload...
 *   broadcast    2 | topic_len event_len                 | topic event              | payload...
 * ```
 *
 * Decoding is strict where Phoenix is lenient: Phoenix ignores extra array elements and lets a
 * bad element crash the socket process; here any frame that is not exactly the shape above is
 * refused with a {@link FrameError} whose code names the fault, and the endpoint decides whether
 * to answer (`FrameError.replyTo`) or to close.
 */
import { Buffer } from 'node:buffer'
import { FrameError, InvalidArgumentError, describeThrown } from '../errors.js'

/** A JSON value as `JSON.parse` produces it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject
/** A JSON object: the only payload the V2 text protocol allows. */
export interface JsonObject { [key: string]: JsonValue }

/** A `join_ref` or `ref`: a string chosen by the client, or `null` where there is none. */
export type Ref = string | null

/** One protocol message, either direction. `P` is the payload: a JSON object, or bytes for a binary frame. */
export interface Message<P> {
  joinRef: Ref
  ref: Ref
  topic: string
  event: string
  payload: P
}

/** A message decoded from a text frame. */
export type TextMessage = Message<JsonObject>
/** A message decoded from a binary frame; `payload` is a view on the frame's bytes (not a copy). */
export type BinaryMessage = Message<Uint8Array>

/** The status of a `phx_reply`. */
export type ReplyStatus = 'ok' | 'error'

/** The reserved events of the protocol, as both ends spell them. */
export const CHANNEL_EVENTS = {
  join: 'phx_join',
  leave: 'phx_leave',
  reply: 'phx_reply',
  close: 'phx_close',
  error: 'phx_error',
  heartbeat: 'heartbeat',
} as const

/**
 * Why a server-sent event name would be misread by Phoenix clients, or null when it is fine: `phx_*`
 * names are the protocol's own (a broadcast `phx_close` makes the official client close the channel
 * while the server keeps it joined), and `chan_reply_<ref>` is the name the JS client gives replies
 * internally (one would resolve a pending push). Empty or non-string names are refused too.
 */
export function eventNameProblem (event: unknown): string | null {
  if (typeof event !== 'string' || event.length === 0) return 'must be a non-empty string'
  if (event.startsWith('phx_') || event.startsWith('chan_reply_')) return 'is reserved by the Phoenix protocol (phx_*, chan_reply_*)'
  return null
}

/**
 * Throws when `event` may not be sent to clients (see {@link eventNameProblem}).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` naming the problem and the value.
 */
export function checkEventName (event: unknown): void {
  const problem = eventNameProblem(event)
  if (problem === null) return
  const shown = typeof event === 'string' ? JSON.stringify(event.length > 80 ? `${event.slice(0, 80)}...` : event) : event === null ? 'null' : typeof event
  throw new InvalidArgumentError(`event ${problem}, got ${shown}`)
}

/** The topic the client sends heartbeats on; it names no channel. */
export const PHOENIX_TOPIC = 'phoenix'

/** The longest `join_ref`, `ref`, topic, event or status a binary frame can carry (one length byte). */
export const BINARY_FIELD_MAX_BYTES = 255

/** Binary frame kinds, from the first byte. */
export const BINARY_KINDS = { push: 0, reply: 1, broadcast: 2 } as const

const FIELD_NAMES = ['join_ref', 'ref', 'topic', 'event', 'payload'] as const
const SHAPE = '[join_ref, ref, topic, event, payload]'
// Longest excerpt of a client's value quoted in an error message: enough to recognise it, bounded
// so a 1 MiB frame does not become a 1 MiB log line.
const PREVIEW_CHARS = 60

// `fatal` so invalid UTF-8 is refused instead of silently turned into U+FFFD.
const UTF8 = new TextDecoder('utf-8', { fatal: true })

// The heartbeat reply differs only by its ref; the rest is built once.
const HEARTBEAT_REPLY_HEAD = '[null,'
const HEARTBEAT_REPLY_TAIL = ',"phoenix","phx_reply",{"status":"ok","response":{}}]'

/**
 * Decodes a text frame into a message, validating every element.
 *
 * @throws {FrameError} `ERR_FRAME_NOT_JSON` the text is not JSON;
 *   `ERR_FRAME_NOT_ARRAY` it is JSON but not an array;
 *   `ERR_FRAME_ARITY` the array does not have exactly 5 elements;
 *   `ERR_FRAME_FIELD` an element has the wrong type (`join_ref`/`ref` string or null, `topic`/`event`
 *   string, `payload` a JSON object). When `join_ref`, `ref` and `topic` were valid, the error's
 *   `replyTo` says where an error reply can go.
 */
export function decodeText (text: string): TextMessage {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new FrameError(`frame is not valid JSON (${describeThrown(err)}): ${preview(text)}`, 'ERR_FRAME_NOT_JSON')
  }
  if (!Array.isArray(parsed)) {
    throw new FrameError(`frame must be a JSON array ${SHAPE}, got ${describeJson(parsed)}`, 'ERR_FRAME_NOT_ARRAY')
  }
  if (parsed.length !== 5) {
    throw new FrameError(`frame must have 5 elements ${SHAPE}, got ${parsed.length}`, 'ERR_FRAME_ARITY')
  }
  const joinRef: unknown = parsed[0]
  const ref: unknown = parsed[1]
  const topic: unknown = parsed[2]
  const event: unknown = parsed[3]
  const payload: unknown = parsed[4]
  if (joinRef !== null && typeof joinRef !== 'string') throw fieldError(0, 'a string or null', joinRef)
  if (ref !== null && typeof ref !== 'string') throw fieldError(1, 'a string or null', ref)
  if (typeof topic !== 'string') throw fieldError(2, 'a string', topic)
  // From here on the frame says where a reply would go, if it has a ref to answer.
  const replyTo = ref === null ? undefined : { joinRef, ref, topic }
  if (typeof event !== 'string') throw fieldError(3, 'a string', event, replyTo)
  if (!isJsonObject(payload)) throw fieldError(4, 'a JSON object', payload, replyTo)
  return { joinRef, ref, topic, event, payload }
}

/**
 * Decodes a binary frame from a client. Only a push (kind 0) is accepted: replies and broadcasts
 * travel server to client only.
 *
 * @throws {FrameError} `ERR_FRAME_BINARY` the frame is shorter than its header, its kind is not a
 *   push, its declared field lengths run past its end, or a field is not valid UTF-8.
 */
export function decodeBinary (bytes: Uint8Array): BinaryMessage {
  const length = bytes.length
  if (length < 1) throw new FrameError('binary frame is empty', 'ERR_FRAME_BINARY')
  const kind = bytes[0]
  if (kind !== BINARY_KINDS.push) {
    throw new FrameError(`binary frame kind must be 0 (push) from a client, got ${kindName(kind)}`, 'ERR_FRAME_BINARY')
  }
  if (length < 5) {
    throw new FrameError(`binary push is ${length} bytes, shorter than its 5-byte header`, 'ERR_FRAME_BINARY')
  }
  const joinRefSize = bytes[1]
  const refSize = bytes[2]
  const topicSize = bytes[3]
  const eventSize = bytes[4]
  const fieldsEnd = 5 + joinRefSize + refSize + topicSize + eventSize
  if (fieldsEnd > length) {
    throw new FrameError(
      `binary push header declares ${fieldsEnd - 5} bytes of join_ref, ref, topic and event, but only ${length - 5} follow it`,
      'ERR_FRAME_BINARY')
  }
  let offset = 5
  const joinRef = utf8Field(bytes, offset, joinRefSize, 'join_ref')
  offset += joinRefSize
  const ref = utf8Field(bytes, offset, refSize, 'ref')
  offset += refSize
  const topic = utf8Field(bytes, offset, topicSize, 'topic')
  offset += topicSize
  const event = utf8Field(bytes, offset, eventSize, 'event')
  return { joinRef, ref, topic, event, payload: bytes.subarray(fieldsEnd) }
}

/**
 * Decodes a frame as the WebSocket delivered it: `isBinary` is the frame's opcode (ws's
 * `message` event gives it), and a text frame may arrive as bytes.
 *
 * @throws {FrameError} the codes of {@link decodeText} or {@link decodeBinary};
 *   `ERR_FRAME_NOT_JSON` for a text frame that is not valid UTF-8.
 */
export function decodeFrame (data: string | Uint8Array, isBinary: boolean): TextMessage | BinaryMessage {
  if (isBinary) return decodeBinary(typeof data === 'string' ? Buffer.from(data) : data)
  if (typeof data === 'string') return decodeText(data)
  let text: string
  try {
    text = UTF8.decode(data)
  } catch {
    throw new FrameError('text frame is not valid UTF-8', 'ERR_FRAME_NOT_JSON')
  }
  return decodeText(text)
}

/**
 * Encodes any message with a JSON payload to a text frame.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the payload is not a plain object
 *   (Phoenix requires a map), or it cannot be serialised (a cycle, a BigInt).
 */
export function encodeMessage (message: Message<object>): string {
  checkPayload(message.payload, message.topic, message.event)
  return stringify([message.joinRef, message.ref, message.topic, message.event, message.payload], message.topic, message.event)
}

/**
 * Encodes a push from the server to one client's channel: `[join_ref, null, topic, event, payload]`.
 * The `join_ref` is the one the client joined with, so a push meant for an earlier join of the
 * same topic is dropped by the client.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` as {@link encodeMessage}.
 */
export function encodePush (joinRef: Ref, topic: string, event: string, payload: object): string {
  checkPayload(payload, topic, event)
  return stringify([joinRef, null, topic, event, payload], topic, event)
}

/**
 * Encodes a broadcast once, for every subscriber of its topic: `[null, null, topic, event, payload]`.
 * `join_ref` is null so that no subscriber's client drops it as stale, whichever join it is on.
 *
 * Measured (Node 20, 210-byte payload): building the array and stringifying it costs the same,
 * within 2%, as concatenating a per-topic precomputed prefix; the payload dominates. So the win is
 * calling this once per broadcast, not once per subscriber.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` as {@link encodeMessage}.
 */
export function encodeBroadcast (topic: string, event: string, payload: object): string {
  checkPayload(payload, topic, event)
  return stringify([null, null, topic, event, payload], topic, event)
}

/**
 * {@link encodeBroadcast} as UTF-8 bytes, to write to every subscriber. `ws` re-encodes a string
 * on every `send`, so a fan-out to N sockets should hand it these bytes, encoded once, instead.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` as {@link encodeMessage}.
 */
export function encodeBroadcastBytes (topic: string, event: string, payload: object): Buffer {
  return Buffer.from(encodeBroadcast(topic, event, payload), 'utf8')
}

/**
 * Encodes a `phx_reply` to a client's push: `[join_ref, ref, topic, "phx_reply", {status, response}]`.
 * The client resolves the push whose ref matches and runs its `receive(status)` hooks with `response`.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the response cannot be serialised.
 */
export function encodeReply (joinRef: Ref, ref: string, topic: string, status: ReplyStatus, response: unknown = {}): string {
  return stringify([joinRef, ref, topic, CHANNEL_EVENTS.reply, { status, response }], topic, CHANNEL_EVENTS.reply)
}

/**
 * Encodes an error reply with Phoenix's conventional response `{reason}` (Phoenix answers a join
 * to an unknown topic with `{reason: "unmatched topic"}`).
 *
 * @throws never (a string reason always serialises).
 */
export function encodeErrorReply (joinRef: Ref, ref: string, topic: string, reason: string): string {
  return JSON.stringify([joinRef, ref, topic, CHANNEL_EVENTS.reply, { status: 'error', response: { reason } }])
}

/**
 * Encodes the answer to a heartbeat: `[null, ref, "phoenix", "phx_reply", {"status":"ok","response":{}}]`.
 * The client only compares the ref with its pending heartbeat; without this reply within its
 * interval (30 s by default) it closes and reconnects.
 *
 * @throws never.
 */
export function encodeHeartbeatReply (ref: string): string {
  return HEARTBEAT_REPLY_HEAD + JSON.stringify(ref) + HEARTBEAT_REPLY_TAIL
}

/**
 * Encodes `phx_error` for a channel that crashed: `[join_ref, join_ref, topic, "phx_error", {}]`,
 * as Phoenix does. The client marks the channel errored and rejoins it after a back-off.
 *
 * @throws never.
 */
export function encodeChannelError (joinRef: string, topic: string): string {
  return JSON.stringify([joinRef, joinRef, topic, CHANNEL_EVENTS.error, {}])
}

/**
 * Encodes `phx_close` for a channel the server ended: `[join_ref, join_ref, topic, "phx_close", {}]`.
 * The client closes the channel and does not rejoin it.
 *
 * @throws never.
 */
export function encodeChannelClose (joinRef: string, topic: string): string {
  return JSON.stringify([joinRef, joinRef, topic, CHANNEL_EVENTS.close, {}])
}

/**
 * Encodes a binary broadcast: kind 2, topic, event, then the raw payload. The client hands the
 * payload to the channel as an `ArrayBuffer`.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the topic or event exceeds 255 bytes.
 */
export function encodeBinaryBroadcast (topic: string, event: string, data: Uint8Array): Buffer {
  const topicSize = fieldSize(topic, 'topic')
  const eventSize = fieldSize(event, 'event')
  const headerSize = 3 + topicSize + eventSize
  const out = Buffer.allocUnsafe(headerSize + data.length)
  out[0] = BINARY_KINDS.broadcast
  out[1] = topicSize
  out[2] = eventSize
  let offset = 3
  offset += out.write(topic, offset, 'utf8')
  out.write(event, offset, 'utf8')
  out.set(data, headerSize)
  return out
}

/**
 * Encodes a binary push to one client's channel: kind 0, join_ref, topic, event, payload (no ref:
 * the client's decoder reads none for a server push). A null `join_ref` is sent empty, as Phoenix does.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` a string field exceeds 255 bytes.
 */
export function encodeBinaryPush (joinRef: Ref, topic: string, event: string, data: Uint8Array): Buffer {
  const jr = joinRef ?? ''
  const joinRefSize = fieldSize(jr, 'join_ref')
  const topicSize = fieldSize(topic, 'topic')
  const eventSize = fieldSize(event, 'event')
  const headerSize = 4 + joinRefSize + topicSize + eventSize
  const out = Buffer.allocUnsafe(headerSize + data.length)
  out[0] = BINARY_KINDS.push
  out[1] = joinRefSize
  out[2] = topicSize
  out[3] = eventSize
  let offset = 4
  offset += out.write(jr, offset, 'utf8')
  offset += out.write(topic, offset, 'utf8')
  out.write(event, offset, 'utf8')
  out.set(data, headerSize)
  return out
}

/**
 * Encodes a binary reply: kind 1, join_ref, ref, topic, status, payload. The client turns it into
 * `phx_reply` with `{status, response: ArrayBuffer}`.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` a string field exceeds 255 bytes.
 */
export function encodeBinaryReply (joinRef: Ref, ref: string, topic: string, status: ReplyStatus, data: Uint8Array): Buffer {
  const jr = joinRef ?? ''
  const joinRefSize = fieldSize(jr, 'join_ref')
  const refSize = fieldSize(ref, 'ref')
  const topicSize = fieldSize(topic, 'topic')
  const statusSize = fieldSize(status, 'status')
  const headerSize = 5 + joinRefSize + refSize + topicSize + statusSize
  const out = Buffer.allocUnsafe(headerSize + data.length)
  out[0] = BINARY_KINDS.reply
  out[1] = joinRefSize
  out[2] = refSize
  out[3] = topicSize
  out[4] = statusSize
  let offset = 5
  offset += out.write(jr, offset, 'utf8')
  offset += out.write(ref, offset, 'utf8')
  offset += out.write(topic, offset, 'utf8')
  out.write(status, offset, 'utf8')
  out.set(data, headerSize)
  return out
}

/** Whether a decoded value is a JSON object (not null, not an array). @internal */
function isJsonObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fieldError (index: number, expected: string, value: unknown, replyTo?: FrameError['replyTo']): FrameError {
  return new FrameError(`frame[${index}] (${FIELD_NAMES[index]}) must be ${expected}, got ${describeJson(value)}`, 'ERR_FRAME_FIELD', replyTo)
}

/** `null`, `array [1,2]`, `number 3`, `string "x"`, `object {"a":1}`: type first, then a bounded excerpt. */
function describeJson (value: unknown): string {
  if (value === null) return 'null'
  const kind = Array.isArray(value) ? 'array' : typeof value
  try {
    return `${kind} ${preview(JSON.stringify(value))}`
  } catch {
    // JSON.parse takes nesting that JSON.stringify's recursion cannot (a RangeError at ~10^4 levels).
    return `${kind} (too deeply nested to show)`
  }
}

function preview (text: string): string {
  return text.length <= PREVIEW_CHARS ? text : `${text.slice(0, PREVIEW_CHARS)}... (${text.length} chars)`
}

function kindName (kind: number | undefined): string {
  switch (kind) {
    case BINARY_KINDS.reply: return '1 (reply)'
    case BINARY_KINDS.broadcast: return '2 (broadcast)'
    default: return String(kind)
  }
}

function utf8Field (bytes: Uint8Array, offset: number, size: number, name: string): string {
  try {
    return UTF8.decode(bytes.subarray(offset, offset + size))
  } catch {
    throw new FrameError(`binary push ${name} is not valid UTF-8`, 'ERR_FRAME_BINARY')
  }
}

function fieldSize (value: string, name: string): number {
  const size = Buffer.byteLength(value, 'utf8')
  if (size > BINARY_FIELD_MAX_BYTES) {
    throw new InvalidArgumentError(`${name} must be at most ${BINARY_FIELD_MAX_BYTES} bytes to fit a binary frame, got ${size} bytes`)
  }
  return size
}

// Phoenix refuses a non-map payload when encoding (`expected payload to be a map`); so do we,
// because the client reads `payload.status` and the like and would misbehave on an array.
function checkPayload (payload: object, topic: string, event: string): void {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || ArrayBuffer.isView(payload)) {
    const got = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : ArrayBuffer.isView(payload) ? 'bytes (use a binary encoder)' : typeof payload
    throw new InvalidArgumentError(`payload of "${event}" on "${topic}" must be a plain object, got ${got}`)
  }
}

function stringify (frame: unknown[], topic: string, event: string): string {
  try {
    return JSON.stringify(frame)
  } catch (err) {
    throw new InvalidArgumentError(`payload of "${event}" on "${topic}" cannot be serialised to JSON: ${describeThrown(err)}`)
  }
}
