// Every kind of bad input from a client, sent over a raw `ws` client (the official client never
// sends these), each with the endpoint's answer asserted: an error reply where the frame has a ref
// to answer, else a close with a code and a reason. Throughout, a well-behaved official client on
// the same endpoint keeps joining, pushing and receiving: the server and the other clients carry on.
import t from 'tap'
import { CLOSE_CODES } from '../../lib/channels/events.js'
import { waitFor } from '../helpers.js'
import { RawClient, join, nextMessage, phoenixSocket, push, startEndpoint, tokenFor, wsUrl } from './support.js'
import type { Endpoint } from '../../lib/channels/endpoint.js'
import type { Socket } from 'phoenix'

/** A bystander: an official client joined to room:calm. Checks it still works. */
async function bystander (t: Tap, endpoint: Endpoint, port: number): Promise<() => Promise<void>> {
  const socket: Socket = phoenixSocket(t, port, tokenFor(1000))
  const { channel } = await join(socket, 'room:calm')
  let n = 0
  return async () => {
    n++
    const got = nextMessage(socket, (m) => m.event === 'still' && m.payload.n === n)
    t.equal(endpoint.broadcast('room:calm', 'still', { n }), 1, 'the bystander is still subscribed')
    await got
    t.strictSame((await push(channel, 'count')).response, { count: n }, 'and its pushes are answered')
  }
}
// What `bystander` needs of a test: the root `t` and subtests both have it.
type Tap = Pick<typeof t, 'equal' | 'strictSame' | 'teardown'>

t.test('frames with no ref to answer close the socket with 1007 and the reason', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const check = await bystander(t, endpoint, port)
  const cases: Array<[string | Buffer, string, RegExp]> = [
    ['not json', 'ERR_FRAME_NOT_JSON', /^frame is not valid JSON \(SyntaxError: .*\): not json$/],
    ['{"a":1}', 'ERR_FRAME_NOT_ARRAY', /^frame must be a JSON array \[join_ref, ref, topic, event, payload\], got object \{"a":1\}$/],
    ['["1","1","room:a","phx_join"]', 'ERR_FRAME_ARITY', /^frame must have 5 elements \[join_ref, ref, topic, event, payload\], got 4$/],
    ['["1","1","room:a","phx_join",{},"extra"]', 'ERR_FRAME_ARITY', /got 6$/],
    ['[1,"1","room:a","phx_join",{}]', 'ERR_FRAME_FIELD', /^frame\[0\] \(join_ref\) must be a string or null, got number 1$/],
    ['["1",null,"room:a","x",[]]', 'ERR_FRAME_FIELD', /^frame\[4\] \(payload\) must be a JSON object, got array \[\]$/],
    [Buffer.from([1, 0, 0, 0, 0]), 'ERR_FRAME_BINARY', /^binary frame kind must be 0 \(push\) from a client, got 1 \(reply\)$/],
    [`["1","1","room:a","x",{"pad":"${'y'.repeat(300)}"}`, 'ERR_FRAME_NOT_JSON', /^frame is not valid JSON .*\.\.\.$/],
  ]
  for (const [frame, code, reason] of cases) {
    const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
    const invalid = waitFor<{ error: { code: string } }>(endpoint, 'frame:invalid')
    raw.send(frame)
    const closed = await raw.closed
    t.equal(closed.code, CLOSE_CODES.badFrame, `${code}: closed with 1007`)
    t.match(closed.reason, reason)
    t.ok(Buffer.byteLength(closed.reason) <= 123, 'the reason fits a close frame')
    t.equal((await invalid).error.code, code)
    await check()
  }
  // A join without a ref cannot be answered either.
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  raw.send([null, null, 'room:a', 'phx_join', {}])
  t.strictSame(await raw.closed, { code: CLOSE_CODES.badFrame, reason: 'phx_join to "room:a" without a ref' })
  // Invalid UTF-8 in a text frame: ws refuses it itself.
  const utf8 = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  const closedEvent = waitFor<{ reason: string, message: string }>(endpoint, 'socket:closed', (e) => e.reason === 'bad_frame' && e.message.includes('UTF-8'))
  utf8.ws.send(Buffer.from([0x5b, 0xff, 0x5d]), { binary: false })
  t.equal((await utf8.closed).code, 1007)
  await closedEvent
  t.equal(endpoint.stats().disconnects.bad_frame, cases.length + 2)
  await check()
})

t.test('bad frames that carry a ref get an error reply, and the socket stays open', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const check = await bystander(t, endpoint, port)
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  const reply = (joinRef: string | null, ref: string, topic: string, response: object): unknown[] =>
    [joinRef, ref, topic, 'phx_reply', { status: 'error', response }]

  t.strictSame(await raw.request(['1', '1', 'room:a', 'phx_join', []]),
    reply('1', '1', 'room:a', { reason: 'bad frame', detail: 'frame[4] (payload) must be a JSON object, got array []' }))
  // Nesting JSON.parse takes but JSON.stringify cannot (describing it overflowed the stack: a 1011 close).
  const deep = `["1","1b","room:a","phx_join",${'['.repeat(50_000)}${']'.repeat(50_000)}]`
  t.strictSame(await raw.request(deep),
    reply('1', '1b', 'room:a', { reason: 'bad frame', detail: 'frame[4] (payload) must be a JSON object, got array (too deeply nested to show)' }))
  t.strictSame(await raw.request(['1', '2', 'room:a', 5, {}]),
    reply('1', '2', 'room:a', { reason: 'bad frame', detail: 'frame[3] (event) must be a string, got number 5' }))

  // Unknown events.
  t.strictSame(await raw.request([null, '3', 'phoenix', 'ping', {}]),
    reply(null, '3', 'phoenix', { reason: 'unknown event', detail: 'topic "phoenix" takes only "heartbeat", got "ping"' }))
  t.strictSame(await raw.request(['1', '4', 'room:a', 'phx_reply', {}]),
    reply('1', '4', 'room:a', { reason: 'unknown event', detail: '"phx_reply" is sent by the server, not to it' }))
  t.strictSame(await raw.request(['9', '9', 'async:1', 'phx_join', {}]), ['9', '9', 'async:1', 'phx_reply', { status: 'ok', response: {} }])
  t.strictSame(await raw.request(['9', '10', 'async:1', 'hello', {}]),
    reply('9', '10', 'async:1', { reason: 'unknown event', detail: 'the channel of "async:1" takes no pushes' }), 'a module without handleIn')

  // Joins to unknown or invalid topics.
  t.strictSame(await raw.request(['5', '5', 'nowhere:1', 'phx_join', {}]),
    reply('5', '5', 'nowhere:1', { reason: 'unmatched topic', detail: 'no channel route matches "nowhere:1"' }))
  t.strictSame(await raw.request(['6', '6', '', 'phx_join', {}]),
    reply('6', '6', '', { reason: 'unmatched topic', detail: 'topic must not be empty' }))
  const long = `room:${'x'.repeat(300)}`
  t.match(await raw.request(['7', '7', long, 'phx_join', {}]),
    reply('7', '7', long, { reason: 'unmatched topic', detail: /^topic must be at most 255 bytes \(UTF-8\), got 305/ }))

  // Pushes to a topic not joined.
  t.strictSame(await raw.request([null, '8', 'room:z', 'hello', {}]),
    reply(null, '8', 'room:z', { reason: 'not joined', detail: 'join "room:z" before pushing to it' }))
  t.strictSame(await raw.request(['1', '11', 'room:z', 'phx_leave', {}]), ['1', '11', 'room:z', 'phx_reply', { status: 'ok', response: {} }],
    'leaving what is not joined is answered ok (leave is idempotent)')

  // A binary push on a joined channel reaches handleIn; a binary join is refused.
  t.strictSame(await raw.request(['2', '2', 'room:b', 'phx_join', {}]), ['2', '2', 'room:b', 'phx_reply', { status: 'ok', response: {} }])
  const binaryPush = Buffer.concat([Buffer.from([0, 1, 2, 6, 4]), Buffer.from('2'), Buffer.from('12'), Buffer.from('room:b'), Buffer.from('echo'), Buffer.from([1, 2, 3])])
  const echoed = await raw.request(binaryPush) as Buffer
  t.ok(Buffer.isBuffer(echoed), 'a bytes response is a binary reply')
  t.strictSame([...echoed.subarray(0, 5)], [1, 1, 2, 6, 2], 'kind 1 (reply), join_ref, ref, topic and status lengths')
  t.strictSame([...echoed.subarray(-3)], [1, 2, 3])
  const binaryJoin = Buffer.concat([Buffer.from([0, 1, 2, 6, 8]), Buffer.from('3'), Buffer.from('13'), Buffer.from('room:c'), Buffer.from('phx_join'), Buffer.from('{}')])
  t.strictSame(await raw.request(binaryJoin), reply('3', '13', 'room:c', { reason: 'bad frame', detail: 'phx_join params must be a JSON object, not binary' }))

  t.equal(raw.ws.readyState, raw.ws.OPEN, 'the socket is still open after all of that')
  t.strictSame(await raw.request([null, '99', 'phoenix', 'heartbeat', {}]), [null, '99', 'phoenix', 'phx_reply', { status: 'ok', response: {} }])
  t.equal(endpoint.stats().disconnects.bad_frame, 0)
  await check()
})

t.test('an oversize frame closes the socket with 1009', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { maxFrameBytes: 1024 })
  const check = await bystander(t, endpoint, port)
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  t.strictSame(await raw.request([null, '1', 'phoenix', 'heartbeat', { pad: 'x'.repeat(900) }]),
    [null, '1', 'phoenix', 'phx_reply', { status: 'ok', response: {} }], 'a frame under the limit is fine')
  const closedEvent = waitFor<{ reason: string, code: number, message: string }>(endpoint, 'socket:closed')
  raw.send([null, '2', 'phoenix', 'heartbeat', { pad: 'x'.repeat(2000) }])
  t.strictSame(await raw.closed, { code: CLOSE_CODES.frameTooLarge, reason: '' }, 'ws closes with 1009 (Message Too Big): the code is the reason')
  t.match(await closedEvent, { reason: 'frame_too_large', code: 1009, message: 'Max payload size exceeded' })
  t.equal(endpoint.stats().disconnects.frame_too_large, 1)
  await check()
})

t.test('a flood of joins stops at maxChannelsPerSocket', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { maxChannelsPerSocket: 3 })
  const check = await bystander(t, endpoint, port)
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(1)))
  for (let i = 1; i <= 3; i++) {
    t.strictSame(await raw.request([String(i), String(i), `room:${i}`, 'phx_join', {}]), [String(i), String(i), `room:${i}`, 'phx_reply', { status: 'ok', response: {} }])
  }
  t.strictSame(await raw.request(['4', '4', 'room:4', 'phx_join', {}]),
    ['4', '4', 'room:4', 'phx_reply', { status: 'error', response: { reason: 'too many channels', detail: 'a connection may join at most 3 channels' } }])
  t.strictSame(await raw.request(['1', '5', 'room:1', 'phx_join', {}]), ['1', '5', 'room:1', 'phx_reply', { status: 'ok', response: {} }],
    'rejoining a joined topic replaces it and does not count twice')
  t.strictSame(await raw.request(['1', '6', 'room:1', 'phx_leave', {}]), ['1', '6', 'room:1', 'phx_reply', { status: 'ok', response: {} }])
  t.strictSame(await raw.request(['7', '7', 'room:4', 'phx_join', {}]), ['7', '7', 'room:4', 'phx_reply', { status: 'ok', response: {} }], 'room made by leaving')
  t.strictSame(endpoint.connections().find((c) => c.topics.includes('room:4'))?.topics.sort(), ['room:2', 'room:3', 'room:4'])
  await check()

  // Through the official client: the refused join's reply reaches it.
  const socket = phoenixSocket(t, port, tokenFor(2))
  for (let i = 1; i <= 3; i++) t.equal((await join(socket, `room:${i}`)).status, 'ok')
  t.match(await join(socket, 'room:4'), { status: 'error', response: { reason: 'too many channels' } })
})

t.test('a full channel mailbox refuses the push with a reply, and counts it', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { mailboxSize: 2 })
  const socket = phoenixSocket(t, port, tokenFor(1))
  const { channel } = await join(socket, 'room:busy')
  // The first runs at once (and waits 100 ms); two more fit the mailbox; the fourth does not.
  const replies = await Promise.all([100, 0, 0, 0].map((ms) => push(channel, 'slow', { ms })))
  t.strictSame(replies.map((r) => r.status), ['ok', 'ok', 'ok', 'error'])
  t.strictSame(replies[3]?.response, { reason: 'mailbox full', detail: 'the channel has 2 messages waiting' })
  t.equal(endpoint.stats().drops.mailbox_full, 1)
})
