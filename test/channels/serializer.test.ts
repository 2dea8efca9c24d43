// The Phoenix V2 serializer against the real `phoenix` client, with no network and no threads:
// the client runs over an in-memory transport, so the frames decoded here are the bytes it
// really sends, and the frames encoded here are fed to it as a server's would be and must
// drive its channels (join ok/error, broadcast, push, stale push, heartbeat, phx_error,
// phx_close, binary). Then its own Serializer both ways, and every bad frame with code and message.
import t from 'tap'
import * as phoenix from 'phoenix'
import { Socket } from 'phoenix'
import type { Channel } from 'phoenix'
import {
  CHANNEL_EVENTS, PHOENIX_TOPIC, decodeBinary, decodeFrame, decodeText,
  encodeBinaryBroadcast, encodeBinaryPush, encodeBinaryReply, encodeBroadcast, encodeBroadcastBytes,
  encodeChannelClose, encodeChannelError, encodeErrorReply, encodeHeartbeatReply, encodeMessage,
  encodePush, encodeReply, eventNameProblem,
} from '../../lib/channels/serializer.js'
import type { Message } from '../../lib/channels/serializer.js'
import { FrameError, InvalidArgumentError, fromWire, toWire } from '../../lib/errors.js'

// ---------------------------------------------------------------------------------------------
// The real client, over a transport that records what it sends and delivers what we give it.

type Frame = string | ArrayBuffer

/** Stands in for a WebSocket: the client sets the on* handlers and reads readyState and bufferedAmount. */
class MemoryTransport {
  static last: MemoryTransport | undefined
  readyState = 0
  binaryType = 'blob'
  bufferedAmount = 0
  readonly sent: Frame[] = []
  closedWith: { code: number | undefined, reason: string | undefined } | undefined
  /** Resolves when the client closes this transport (a heartbeat timeout does). */
  readonly closed: Promise<{ code: number | undefined, reason: string | undefined }>
  #onClosed: (how: { code: number | undefined, reason: string | undefined }) => void = () => {}
  onopen: (() => void) | null = null
  onmessage: ((event: { data: Frame }) => void) | null = null
  onclose: ((event: { code: number, reason: string }) => void) | null = null
  onerror: ((error: unknown) => void) | null = null
  readonly #waiting: Array<(frame: Frame) => void> = []

  constructor (readonly url: string) {
    MemoryTransport.last = this
    this.closed = new Promise((resolve) => { this.#onClosed = resolve })
  }

  open (): void {
    this.readyState = 1
    this.onopen?.()
  }

  send (frame: Frame): void {
    this.sent.push(frame)
    this.#waiting.shift()?.(frame)
  }

  close (code?: number, reason?: string): void {
    this.readyState = 3
    this.closedWith = { code, reason }
    this.#onClosed(this.closedWith)
    this.onclose?.({ code: code ?? 1005, reason: reason ?? '' })
  }

  /** What the server sends: handed to the client as a WebSocket message event. */
  deliver (frame: Frame): void {
    this.onmessage?.({ data: frame })
  }

  /** The next frame the client sends (or the last, if it was already sent since `from`). */
  nextSent (from: number): Promise<Frame> {
    if (this.sent.length > from) return Promise.resolve(this.sent[from] as Frame)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }
}

interface Client { socket: Socket, transport: MemoryTransport }

function connect (t: { teardown: (fn: () => void) => void }, options: { heartbeatIntervalMs?: number } = {}): Client {
  const socket = new Socket('ws://127.0.0.1:4000/socket', { transport: MemoryTransport, params: { token: 'tok' }, ...options })
  socket.connect()
  const transport = MemoryTransport.last as MemoryTransport
  transport.open()
  // Without disconnect() the client's heartbeat timer keeps the process alive.
  t.teardown(() => socket.disconnect())
  return { socket, transport }
}

/** Joins `topic`, answers the join with `reply(joinRef, ref)`, and returns the channel and its join frame. */
async function join (client: Client, topic: string, reply: (joinRef: string, ref: string) => string): Promise<{ channel: Channel, joinRef: string, status: string, response: unknown }> {
  const channel = client.socket.channel(topic, { room: 1 })
  const at = client.transport.sent.length
  const outcome = new Promise<{ status: string, response: unknown }>((resolve) => {
    channel.join()
      .receive('ok', (response) => resolve({ status: 'ok', response }))
      .receive('error', (response) => resolve({ status: 'error', response }))
      .receive('timeout', (response) => resolve({ status: 'timeout', response }))
  })
  const frame = decodeText(await client.transport.nextSent(at) as string)
  const joinRef = frame.joinRef as string
  client.transport.deliver(reply(joinRef, frame.ref as string))
  return { channel, joinRef, ...(await outcome) }
}

const okReply = (topic: string) => (joinRef: string, ref: string): string => encodeReply(joinRef, ref, topic, 'ok', {})

// The real client's own Serializer (exported at runtime; @types/phoenix does not declare it).
interface ClientMessage { join_ref: string | null, ref: string | null, topic: string, event: string, payload: unknown }
interface ClientSerializer {
  encode (message: ClientMessage, callback: (encoded: Frame) => void): void
  decode (raw: Frame, callback: (message: ClientMessage) => void): void
}
const ClientSerializer = (phoenix as unknown as { Serializer: ClientSerializer }).Serializer
function clientEncode (message: ClientMessage): Frame {
  let out: Frame | undefined
  ClientSerializer.encode(message, (encoded) => { out = encoded })
  return out as Frame
}
function clientDecode (raw: Frame): ClientMessage {
  let out: ClientMessage | undefined
  ClientSerializer.decode(raw, (message) => { out = message })
  return out as ClientMessage
}

/** Rejects with `what` if `promise` has not settled within `ms`: a wrong reply fails the test instead of hanging it. */
function within<T> (promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A Buffer's bytes as the standalone ArrayBuffer a browser-style WebSocket hands the client. */
function arrayBuffer (bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

// ---------------------------------------------------------------------------------------------
// What the real client sends decodes to the right message.

t.test('the frames the real client sends: join, heartbeat, push, leave', async (t) => {
  const client = connect(t)
  t.equal(client.transport.url, 'ws://127.0.0.1:4000/socket/websocket?token=tok&vsn=2.0.0', 'the client appends /websocket and vsn=2.0.0')

  const { channel, joinRef } = await join(client, 'room:lobby', okReply('room:lobby'))
  const joinFrame = client.transport.sent[0] as string
  t.equal(joinFrame, `["${joinRef}","${joinRef}","room:lobby","phx_join",{"room":1}]`, 'a join carries join_ref === ref')
  t.strictSame(decodeText(joinFrame), { joinRef, ref: joinRef, topic: 'room:lobby', event: CHANNEL_EVENTS.join, payload: { room: 1 } })

  let at = client.transport.sent.length
  const pinged = new Promise<void>((resolve) => client.socket.ping(() => resolve()))
  const heartbeat = decodeText(await client.transport.nextSent(at) as string)
  t.strictSame(heartbeat, { joinRef: null, ref: heartbeat.ref, topic: PHOENIX_TOPIC, event: CHANNEL_EVENTS.heartbeat, payload: {} })
  t.equal(client.transport.sent[at], `[null,"${heartbeat.ref}","phoenix","heartbeat",{}]`)
  client.transport.deliver(encodeHeartbeatReply(heartbeat.ref as string))
  await within(pinged, 'the client never matched the heartbeat reply to its ping')

  at = client.transport.sent.length
  const pushed = new Promise<unknown>((resolve) => channel.push('new_msg', { body: 'héllo ✓' }).receive('ok', resolve))
  const push = decodeText(await client.transport.nextSent(at) as string)
  t.strictSame(push, { joinRef, ref: push.ref, topic: 'room:lobby', event: 'new_msg', payload: { body: 'héllo ✓' } })
  t.not(push.ref, joinRef, 'a push has its own ref')
  client.transport.deliver(encodeReply(joinRef, push.ref as string, 'room:lobby', 'ok', { id: 7 }))
  t.strictSame(await pushed, { id: 7 }, "the reply's response reaches the push's receive('ok')")

  at = client.transport.sent.length
  channel.leave()
  const leave = decodeText(await client.transport.nextSent(at) as string)
  t.strictSame(leave, { joinRef, ref: leave.ref, topic: 'room:lobby', event: CHANNEL_EVENTS.leave, payload: {} })
  client.transport.deliver(encodeReply(joinRef, leave.ref as string, 'room:lobby', 'ok'))
})

t.test('a binary push from the real client decodes, payload as bytes', async (t) => {
  const client = connect(t)
  const { channel, joinRef } = await join(client, 'files:1', okReply('files:1'))
  const at = client.transport.sent.length
  const data = new Uint8Array([0, 1, 2, 250, 255])
  const replied = new Promise<unknown>((resolve) => channel.push('upload', arrayBuffer(data)).receive('ok', resolve))
  const frame = await client.transport.nextSent(at)
  t.type(frame, ArrayBuffer, 'an ArrayBuffer payload makes the client send a binary frame')
  const message = decodeFrame(new Uint8Array(frame as ArrayBuffer), true)
  t.equal(message.joinRef, joinRef)
  t.equal(message.topic, 'files:1')
  t.equal(message.event, 'upload')
  t.strictSame([...(message.payload as Uint8Array)], [...data])
  t.ok(message.ref !== null && message.ref !== joinRef)
  client.transport.deliver(arrayBuffer(encodeBinaryReply(joinRef, message.ref as string, 'files:1', 'ok', new Uint8Array([9, 8]))))
  const response = await replied
  t.type(response, ArrayBuffer, 'a binary reply reaches receive("ok") as an ArrayBuffer')
  t.strictSame([...new Uint8Array(response as ArrayBuffer)], [9, 8])
})

// ---------------------------------------------------------------------------------------------
// What we encode drives the real client's channels.

t.test('a refused join: the error reply reaches receive("error") with its reason', async (t) => {
  const client = connect(t)
  const { channel, status, response } = await join(client, 'user:43', (joinRef, ref) => encodeErrorReply(joinRef, ref, 'user:43', 'unauthorized'))
  t.equal(status, 'error')
  t.strictSame(response, { reason: 'unauthorized' })
  t.equal(channel.state, 'errored')
  // A refused join is retried forever unless the app leaves (ANCHORS.md); leaving also clears the retry timer.
  channel.leave()
  t.equal(channel.state, 'closed')
})

t.test('a join reply carries its response to receive("ok")', async (t) => {
  const client = connect(t)
  const { channel, status, response } = await join(client, 'room:1', (joinRef, ref) => encodeReply(joinRef, ref, 'room:1', 'ok', { history: [1, 2] }))
  t.equal(status, 'ok')
  t.strictSame(response, { history: [1, 2] })
  t.equal(channel.state, 'joined')
})

t.test('broadcasts (join_ref null) and pushes reach the channel; a push for an earlier join is dropped', async (t) => {
  const client = connect(t)
  const { channel, joinRef } = await join(client, 'room:lobby', okReply('room:lobby'))
  const onChannel: unknown[] = []
  const onSocket: unknown[] = []
  channel.on('tick', (payload) => { onChannel.push(payload) })
  client.socket.onMessage((message) => { onSocket.push(message) })

  client.transport.deliver(encodeBroadcast('room:lobby', 'tick', { seq: 1 }))
  client.transport.deliver(encodeBroadcastBytes('room:lobby', 'tick', { seq: 2 }).toString('utf8'))
  client.transport.deliver(encodePush(joinRef, 'room:lobby', 'tick', { seq: 3 }))
  client.transport.deliver(encodePush(`${joinRef}0`, 'room:lobby', 'tick', { seq: 4 })) // stale join_ref
  client.transport.deliver(encodeBroadcast('room:other', 'tick', { seq: 5 })) // another topic
  t.strictSame(onChannel, [{ seq: 1 }, { seq: 2 }, { seq: 3 }], 'null join_ref and the current join_ref are accepted; a stale one and another topic are not')
  t.equal(onSocket.length, 5, 'socket.onMessage sees every frame, whatever its topic')
  t.strictSame(onSocket[0], { join_ref: null, ref: null, topic: 'room:lobby', event: 'tick', payload: { seq: 1 } })
})

t.test('binary broadcast and binary push reach the channel as ArrayBuffers', async (t) => {
  const client = connect(t)
  const { channel, joinRef } = await join(client, 'bin:1', okReply('bin:1'))
  const got: number[][] = []
  channel.on('chunk', (payload) => { got.push([...new Uint8Array(payload as ArrayBuffer)]) })
  client.transport.deliver(arrayBuffer(encodeBinaryBroadcast('bin:1', 'chunk', new Uint8Array([1, 2, 3]))))
  client.transport.deliver(arrayBuffer(encodeBinaryPush(joinRef, 'bin:1', 'chunk', new Uint8Array([4]))))
  client.transport.deliver(arrayBuffer(encodeBinaryPush(null, 'bin:1', 'chunk', new Uint8Array([]))))
  t.strictSame(got, [[1, 2, 3], [4], []])
})

t.test('heartbeat reply: the client keeps the connection and sends its next heartbeat', async (t) => {
  const client = connect(t, { heartbeatIntervalMs: 20 })
  let at = client.transport.sent.length
  const first = decodeText(await client.transport.nextSent(at) as string)
  t.equal(first.event, 'heartbeat')
  client.transport.deliver(encodeHeartbeatReply(first.ref as string))
  at = client.transport.sent.length
  // Unanswered, the client would close its transport ("heartbeat timeout") after one interval instead.
  const next = await Promise.race([client.transport.nextSent(at), client.transport.closed])
  if (typeof next !== 'string') {
    t.fail(`the client closed its transport: ${JSON.stringify(next)}`)
    return
  }
  const second = decodeText(next)
  t.equal(second.event, 'heartbeat')
  t.not(second.ref, first.ref)
  t.equal(client.transport.closedWith, undefined, 'the transport was never closed')
  client.transport.deliver(encodeHeartbeatReply(second.ref as string))
})

t.test('heartbeat reply has the exact bytes Phoenix sends', async (t) => {
  t.equal(encodeHeartbeatReply('42'), '[null,"42","phoenix","phx_reply",{"status":"ok","response":{}}]')
  t.equal(encodeHeartbeatReply('4"2'), JSON.stringify([null, '4"2', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]), 'the ref is escaped')
})

t.test('phx_error errors the channel; phx_close closes it', async (t) => {
  const client = connect(t)
  const a = await join(client, 'room:a', okReply('room:a'))
  const b = await join(client, 'room:b', okReply('room:b'))
  const errored = new Promise<void>((resolve) => a.channel.onError(() => resolve()))
  const closed = new Promise<void>((resolve) => b.channel.onClose(() => resolve()))
  client.transport.deliver(encodeChannelError(a.joinRef, 'room:a'))
  await errored
  t.equal(a.channel.state, 'errored')
  t.equal(b.channel.state, 'joined', 'the other channel is untouched')
  client.transport.deliver(encodeChannelClose(b.joinRef, 'room:b'))
  await closed
  t.equal(b.channel.state, 'closed')
  t.equal(encodeChannelError('5', 'room:a'), '["5","5","room:a","phx_error",{}]')
  t.equal(encodeChannelClose('5', 'room:b'), '["5","5","room:b","phx_close",{}]')
  a.channel.leave() // clears the rejoin timer phx_error started
})

// ---------------------------------------------------------------------------------------------
// The client's own Serializer, both ways.

const samples: Array<Message<Record<string, unknown>>> = [
  { joinRef: '1', ref: '1', topic: 'room:lobby', event: 'phx_join', payload: {} },
  { joinRef: null, ref: '2', topic: 'phoenix', event: 'heartbeat', payload: {} },
  { joinRef: null, ref: null, topic: 'user:42', event: 'tick', payload: { n: 1, s: 'ü€😀', nested: { a: [1, null, true] } } },
  { joinRef: '9', ref: null, topic: 'chat:é', event: 'new_msg', payload: { body: '"quoted"\n' } },
]

t.test('text: our encoding decodes with the client Serializer and its encoding decodes with ours', async (t) => {
  for (const m of samples) {
    const ours = encodeMessage(m)
    t.strictSame(clientDecode(ours), { join_ref: m.joinRef, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload })
    const theirs = clientEncode({ join_ref: m.joinRef, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload })
    t.equal(theirs, ours, 'the same bytes both ways')
    t.strictSame(decodeText(theirs as string), m)
  }
  t.equal(encodeBroadcast('t', 'e', { m: 1 }), '[null,null,"t","e",{"m":1}]', "Phoenix's own fastlane test frame")
  t.strictSame(clientDecode(encodeReply('1', '2', 't', 'error', { reason: 'x' })),
    { join_ref: '1', ref: '2', topic: 't', event: 'phx_reply', payload: { status: 'error', response: { reason: 'x' } } })
  t.equal(encodeReply(null, '3', 't', 'ok'), '[null,"3","t","phx_reply",{"status":"ok","response":{}}]', 'response defaults to {}')
})

t.test('binary: client pushes decode with ours; our server frames decode with the client', async (t) => {
  const payload = new Uint8Array([1, 2, 3])
  const theirs = clientEncode({ join_ref: '12', ref: '123', topic: 'topic', event: 'event', payload: arrayBuffer(payload) })
  // Phoenix's serializer test names this exact layout.
  t.strictSame([...new Uint8Array(theirs as ArrayBuffer)].slice(0, 5), [0, 2, 3, 5, 5])
  const decoded = decodeBinary(new Uint8Array(theirs as ArrayBuffer))
  t.strictSame({ ...decoded, payload: [...decoded.payload] }, { joinRef: '12', ref: '123', topic: 'topic', event: 'event', payload: [1, 2, 3] })

  const push = clientDecode(arrayBuffer(encodeBinaryPush('12', 'tøpic', 'event', payload)))
  t.strictSame({ ...push, payload: [...new Uint8Array(push.payload as ArrayBuffer)] },
    { join_ref: '12', ref: null, topic: 'tøpic', event: 'event', payload: [1, 2, 3] })
  const reply = clientDecode(arrayBuffer(encodeBinaryReply('12', '123', 'topic', 'ok', payload)))
  const replyPayload = reply.payload as { status: string, response: ArrayBuffer }
  t.strictSame({ ...reply, payload: { status: replyPayload.status, response: [...new Uint8Array(replyPayload.response)] } },
    { join_ref: '12', ref: '123', topic: 'topic', event: 'phx_reply', payload: { status: 'ok', response: [1, 2, 3] } })
  const broadcast = clientDecode(arrayBuffer(encodeBinaryBroadcast('topic', 'event', payload)))
  t.strictSame({ ...broadcast, payload: [...new Uint8Array(broadcast.payload as ArrayBuffer)] },
    { join_ref: null, ref: null, topic: 'topic', event: 'event', payload: [1, 2, 3] })
})

t.test('a broadcast is encoded once: the bytes are the UTF-8 of the string', async (t) => {
  const payload = { ts: 1, pad: 'é'.repeat(10) }
  const bytes = encodeBroadcastBytes('room:1', 'tick', payload)
  t.ok(Buffer.isBuffer(bytes))
  t.equal(bytes.toString('utf8'), encodeBroadcast('room:1', 'tick', payload))
  t.equal(bytes.length, Buffer.byteLength(encodeBroadcast('room:1', 'tick', payload)), 'bytes, not UTF-16 units')
})

// ---------------------------------------------------------------------------------------------
// Bad frames: each refused with its code and a message naming what is wrong.

const replyTo = { joinRef: '1', ref: '2', topic: 'room:1' }
const badText: Array<[name: string, frame: string, code: string, message: string | RegExp, replyTo?: typeof replyTo]> = [
  ['not JSON', 'hello', 'ERR_FRAME_NOT_JSON', /^frame is not valid JSON \(SyntaxError: .+\): hello$/],
  ['empty', '', 'ERR_FRAME_NOT_JSON', /^frame is not valid JSON \(SyntaxError: .+\): $/],
  ['truncated', '["1","1","room:1","phx_join",{}', 'ERR_FRAME_NOT_JSON', /^frame is not valid JSON/],
  ['an object', '{"topic":"room:1"}', 'ERR_FRAME_NOT_ARRAY', 'frame must be a JSON array [join_ref, ref, topic, event, payload], got object {"topic":"room:1"}'],
  ['null', 'null', 'ERR_FRAME_NOT_ARRAY', 'frame must be a JSON array [join_ref, ref, topic, event, payload], got null'],
  ['a string', '"heartbeat"', 'ERR_FRAME_NOT_ARRAY', 'frame must be a JSON array [join_ref, ref, topic, event, payload], got string "heartbeat"'],
  ['a number', '5', 'ERR_FRAME_NOT_ARRAY', 'frame must be a JSON array [join_ref, ref, topic, event, payload], got number 5'],
  ['no elements', '[]', 'ERR_FRAME_ARITY', 'frame must have 5 elements [join_ref, ref, topic, event, payload], got 0'],
  ['4 elements', '[null,"1","phoenix","heartbeat"]', 'ERR_FRAME_ARITY', 'frame must have 5 elements [join_ref, ref, topic, event, payload], got 4'],
  ['6 elements', '[null,"1","phoenix","heartbeat",{},1]', 'ERR_FRAME_ARITY', 'frame must have 5 elements [join_ref, ref, topic, event, payload], got 6'],
  ['join_ref a number', '[1,"2","room:1","e",{}]', 'ERR_FRAME_FIELD', 'frame[0] (join_ref) must be a string or null, got number 1'],
  ['ref an object', '["1",{"a":1},"room:1","e",{}]', 'ERR_FRAME_FIELD', 'frame[1] (ref) must be a string or null, got object {"a":1}'],
  ['ref a number', '["1",2,"room:1","e",{}]', 'ERR_FRAME_FIELD', 'frame[1] (ref) must be a string or null, got number 2'],
  ['topic null', '["1","2",null,"e",{}]', 'ERR_FRAME_FIELD', 'frame[2] (topic) must be a string, got null'],
  ['topic an array', '["1","2",["room"],"e",{}]', 'ERR_FRAME_FIELD', 'frame[2] (topic) must be a string, got array ["room"]'],
  ['event a number', '["1","2","room:1",5,{}]', 'ERR_FRAME_FIELD', 'frame[3] (event) must be a string, got number 5', replyTo],
  ['event false', '["1","2","room:1",false,{}]', 'ERR_FRAME_FIELD', 'frame[3] (event) must be a string, got boolean false', replyTo],
  ['payload an array', '["1","2","room:1","e",[1,2]]', 'ERR_FRAME_FIELD', 'frame[4] (payload) must be a JSON object, got array [1,2]', replyTo],
  ['payload a string', '["1","2","room:1","e","hi"]', 'ERR_FRAME_FIELD', 'frame[4] (payload) must be a JSON object, got string "hi"', replyTo],
  ['payload null', '["1","2","room:1","e",null]', 'ERR_FRAME_FIELD', 'frame[4] (payload) must be a JSON object, got null', replyTo],
  ['payload null, no ref to answer', '["1",null,"room:1","e",null]', 'ERR_FRAME_FIELD', 'frame[4] (payload) must be a JSON object, got null'],
  ['a long value is quoted only in part', `["1","2","room:1","e","${'x'.repeat(500)}"]`, 'ERR_FRAME_FIELD',
    `frame[4] (payload) must be a JSON object, got string "${'x'.repeat(59)}... (502 chars)`, replyTo],
]

for (const [name, frame, code, message, expectedReplyTo] of badText) {
  t.test(`bad text frame: ${name} → ${code}`, async (t) => {
    const err = t.throws(() => decodeText(frame)) as FrameError
    t.type(err, FrameError)
    t.equal(err.code, code)
    t.match(err.message, message)
    if (typeof message === 'string') t.equal(err.message, message)
    t.strictSame(err.replyTo, expectedReplyTo, expectedReplyTo === undefined ? 'no reply address' : 'the reply address is known')
    t.throws(() => decodeFrame(Buffer.from(frame), false), { code }, 'the same through decodeFrame, as bytes')
  })
}

t.test('a text frame that is not UTF-8 is refused', async (t) => {
  t.throws(() => decodeFrame(new Uint8Array([0x5b, 0xff, 0x5d]), false), { name: 'FrameError', code: 'ERR_FRAME_NOT_JSON', message: 'text frame is not valid UTF-8' })
})

const badBinary: Array<[name: string, bytes: number[], message: string]> = [
  ['empty', [], 'binary frame is empty'],
  ['a reply', [1, 0, 0, 0, 0], 'binary frame kind must be 0 (push) from a client, got 1 (reply)'],
  ['a broadcast', [2, 0, 0], 'binary frame kind must be 0 (push) from a client, got 2 (broadcast)'],
  ['an unknown kind', [7, 0, 0, 0, 0], 'binary frame kind must be 0 (push) from a client, got 7'],
  ['a short header', [0, 1, 1], 'binary push is 3 bytes, shorter than its 5-byte header'],
  ['sizes past the end', [0, 1, 1, 5, 5, 0x31, 0x32, 0x74], 'binary push header declares 12 bytes of join_ref, ref, topic and event, but only 3 follow it'],
  ['a topic that is not UTF-8', [0, 0, 0, 2, 1, 0xc3, 0x28, 0x65], 'binary push topic is not valid UTF-8'],
]

for (const [name, bytes, message] of badBinary) {
  t.test(`bad binary frame: ${name} → ERR_FRAME_BINARY`, async (t) => {
    const err = t.throws(() => decodeFrame(Buffer.from(bytes), true)) as FrameError
    t.type(err, FrameError)
    t.equal(err.code, 'ERR_FRAME_BINARY')
    t.equal(err.message, message)
  })
}

t.test('a frame error crosses threads with its class and code', async (t) => {
  const back = fromWire(structuredClone(toWire(new FrameError('frame must have 5 elements', 'ERR_FRAME_ARITY'))))
  t.type(back, FrameError)
  t.equal((back as FrameError).code, 'ERR_FRAME_ARITY')
  t.equal(back.message, 'frame must have 5 elements')
})

// ---------------------------------------------------------------------------------------------
// Encoding refuses what Phoenix refuses.

t.test('encoding refuses a payload that is not a plain object, or cannot be serialised', async (t) => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const cases: Array<[object, RegExp]> = [
    [[1, 2], /^payload of "e" on "t" must be a plain object, got an array$/],
    [new Uint8Array(1), /^payload of "e" on "t" must be a plain object, got bytes \(use a binary encoder\)$/],
    [cyclic, /^payload of "e" on "t" cannot be serialised to JSON: TypeError: Converting circular structure/],
    [{ big: 1n }, /^payload of "e" on "t" cannot be serialised to JSON: TypeError: Do not know how to serialize a BigInt/],
  ]
  for (const [payload, message] of cases) {
    t.throws(() => encodeBroadcast('t', 'e', payload), { name: 'InvalidArgumentError', code: 'ERR_INVALID_ARGUMENT', message })
    t.throws(() => encodePush('1', 't', 'e', payload), { code: 'ERR_INVALID_ARGUMENT', message })
    t.throws(() => encodeMessage({ joinRef: null, ref: null, topic: 't', event: 'e', payload }), { code: 'ERR_INVALID_ARGUMENT', message })
  }
  t.throws(() => encodeBroadcast('t', 'e', null as unknown as object), { code: 'ERR_INVALID_ARGUMENT', message: 'payload of "e" on "t" must be a plain object, got null' })
})

t.test('binary encoding refuses a field longer than 255 bytes, as the client does', async (t) => {
  const long = 'é'.repeat(128) // 256 bytes, 128 characters
  const err = t.throws(() => encodeBinaryBroadcast(long, 'e', new Uint8Array())) as InvalidArgumentError
  t.type(err, InvalidArgumentError)
  t.equal(err.message, 'topic must be at most 255 bytes to fit a binary frame, got 256 bytes')
  t.throws(() => encodeBinaryPush('1', 't', 'x'.repeat(256), new Uint8Array()), { message: 'event must be at most 255 bytes to fit a binary frame, got 256 bytes' })
  t.throws(() => encodeBinaryReply('1', 'r'.repeat(300), 't', 'ok', new Uint8Array()), { message: 'ref must be at most 255 bytes to fit a binary frame, got 300 bytes' })
  const ok = encodeBinaryBroadcast('é'.repeat(127) + 'a', 'e', new Uint8Array([1]))
  t.equal(ok[1], 255, 'exactly 255 bytes fits')
})

t.test('event names the Phoenix client reads as its own are refused for server-sent events', async (t) => {
  for (const name of ['phx_close', 'phx_error', 'phx_reply', 'phx_join', 'chan_reply_7']) {
    t.equal(eventNameProblem(name), 'is reserved by the Phoenix protocol (phx_*, chan_reply_*)', name)
  }
  t.equal(eventNameProblem(''), 'must be a non-empty string')
  t.equal(eventNameProblem(7), 'must be a non-empty string')
  for (const name of ['msg', 'phx', 'heartbeat_ok', 'chan_reply']) t.equal(eventNameProblem(name), null, name)
})
