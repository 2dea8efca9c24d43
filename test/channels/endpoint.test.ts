// The endpoint with the official phoenix client, over real sockets on 127.0.0.1: options, connect
// tokens (valid, bad, expired, missing), joins allowed and refused, broadcasts on the right topic only,
// pushes and replies, intercepts, heartbeats, the idle timeout, reconnect and rejoin, a crashing
// channel contained to itself, and close(). Bad frames are in bad-input.test.ts, fan-out at scale
// and slow clients in fanout.test.ts, the leak check in lifecycle.test.ts.
import http from 'node:http'
import t from 'tap'
import { Endpoint } from '../../lib/channels/endpoint.js'
import { CLOSE_CODES } from '../../lib/channels/events.js'
import { InvalidArgumentError, RuntimeClosedError } from '../../lib/errors.js'
import { waitFor } from '../helpers.js'
import room, { terminated } from '../fixtures/channels/room.js'
import user from '../fixtures/channels/user.js'
import {
  RawClient, SECRET, clientClosed, join, nextMessage, opened, phoenixSocket, push, startEndpoint, tokenFor, wsUrl,
} from './support.js'
import type { ClientMessage } from './support.js'

t.test('options are validated, each error naming the option and the value', async (t) => {
  const base = { secret: SECRET, channels: [['user:*', user]] as const }
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ port: 70_000 }, 'options.port must be an integer from 0 to 65535, got 70000'],
    [{ port: -1 }, 'options.port must be an integer from 0 to 65535, got -1'],
    [{ port: 1.5 }, 'options.port must be an integer from 0 to 65535, got 1.5'],
    [{ host: '' }, 'options.host must be a non-empty string, got ""'],
    [{ path: 'socket' }, 'options.path must start with / and not end with one (e.g. "/socket"), got "socket"'],
    [{ secret: 'short' }, 'options.secret must be at least 32 bytes, got 5 (generate one with crypto.randomBytes(32))'],
    [{ secret: 42 }, 'options.secret must be a string or a Uint8Array, got 42'],
    [{ idleTimeoutMs: 0 }, 'options.idleTimeoutMs must be a positive integer, got 0'],
    [{ maxFrameBytes: '1' }, 'options.maxFrameBytes must be a positive integer, got "1"'],
    [{ maxChannelsPerSocket: -5 }, 'options.maxChannelsPerSocket must be a positive integer, got -5'],
    [{ outboundLimitBytes: Infinity }, 'options.outboundLimitBytes must be a positive integer, got Infinity'],
    [{ outboundPolicy: 'drop' }, 'options.outboundPolicy must be one of drop-oldest|conflate|disconnect, got "drop"'],
    [{ mailboxSize: 0 }, 'options.mailboxSize must be a positive integer, got 0'],
    [{ fanoutSliceSize: null }, 'options.fanoutSliceSize must be a positive integer, got null'],
    [{ channels: [] }, 'options.channels must be a non-empty array of [pattern, channel module]'],
    [{ channels: [['user:*']] }, 'options.channels[0] must be a [pattern, channel module] pair'],
    [{ channels: [['user:*', {}]] }, 'options.channels[0] module.join must be a function, got undefined'],
    [{ channels: [['user:*', { join () {}, intercept: ['x'] }]] }, 'options.channels[0] module.intercept lists events but options.channels[0] module.handleOut is missing'],
    [{ channels: [['user:*', user], ['user:1', room]] }, 'options.channels[1] pattern "user:1" can never match: options.channels[0] "user:*" comes first and matches every topic it would'],
    [{ channels: [['phoenix', user]] }, 'options.channels[0] pattern "phoenix" is reserved for heartbeats'],
    [{ server: http.createServer(), port: 1 }, 'options.host and options.port cannot be combined with options.server (the host app listens)'],
  ]
  for (const [options, message] of cases) {
    const err = t.throws(() => new Endpoint({ ...base, ...options } as never)) as InvalidArgumentError
    t.type(err, InvalidArgumentError)
    t.equal(err.code, 'ERR_INVALID_ARGUMENT')
    t.equal(err.message, message)
  }
  const endpoint = new Endpoint(base)
  t.strictSame(endpoint.stats().connections, 0, 'valid options; nothing listens until listen()')
  await t.rejects(endpoint.close({ timeoutMs: 0 }), { code: 'ERR_INVALID_ARGUMENT', message: 'options.timeoutMs must be a positive integer, got 0' })
})

t.test('connect with a valid token; refused with a bad, an expired or a missing one', async (t) => {
  const { endpoint, port } = await startEndpoint(t)

  const ok = phoenixSocket(t, port, tokenFor(42))
  const connected = await waitFor<{ id: string, assigns: Record<string, unknown> }>(endpoint, 'socket:connected')
  await opened(ok)
  t.strictSame(connected.assigns, { userId: 42 }, 'the token data becomes the assigns')
  t.equal(endpoint.stats().connections, 1)

  // Raw clients read the refusal itself: 403 and the reason in the body.
  const good = tokenFor(7)
  const tampered = `${good.slice(0, -4)}AAAA`
  const expired = tokenFor(7, 60, Date.now() - 120_000)
  const cases: Array<[string | null, string, RegExp]> = [
    [tampered, 'ERR_TOKEN_INVALID', /^ERR_TOKEN_INVALID: token signature does not match/],
    [expired, 'ERR_TOKEN_EXPIRED', /^ERR_TOKEN_EXPIRED: token expired at .*, \d+ s ago\n$/],
    ['garbage', 'ERR_TOKEN_MALFORMED', /^ERR_TOKEN_MALFORMED: token must have the form v1/],
    [null, 'ERR_TOKEN_MALFORMED', /^ERR_TOKEN_MALFORMED: params.token is missing/],
  ]
  for (const [token, code, body] of cases) {
    const refused = waitFor<{ status: number, code: string }>(endpoint, 'socket:refused')
    const err = await RawClient.connect(t, wsUrl(port, token)).then(() => null, (e: { status: number, body: string }) => e)
    t.equal(err?.status, 403, `${code}: HTTP 403`)
    t.match(err?.body, body)
    t.match(await refused, { status: 403, code })
  }

  // The official client with an expired token: an error, never an open, and it keeps retrying with back-off.
  let opens = 0
  const errors: unknown[] = []
  const client = phoenixSocket(t, port, expired, { reconnectAfterMs: () => 50 })
  client.onOpen(() => { opens++ })
  await new Promise<void>((resolve) => client.onError((e) => {
    errors.push(e)
    if (errors.length === 2) resolve()
  }))
  client.disconnect()
  t.equal(opens, 0, 'a refused upgrade never opens the client')
  t.match(String((errors[0] as { message?: string }).message), /Unexpected server response: 403/)

  const stats = endpoint.stats()
  t.equal(stats.connections, 1, 'only the valid client is connected')
  t.ok(stats.refused >= 6)
})

t.test('wrong path, wrong protocol version, plain HTTP', async (t) => {
  const { port } = await startEndpoint(t)
  const token = tokenFor(1)
  const wrongPath = await RawClient.connect(t, `ws://127.0.0.1:${port}/other/websocket?token=${token}`).then(() => null, (e: { status: number, body: string }) => e)
  t.match(wrongPath, { status: 404, body: /^ERR_NOT_FOUND: no WebSocket endpoint at \/other\/websocket \(try \/socket\/websocket\)/ })
  const v1 = await RawClient.connect(t, wsUrl(port, token, 'vsn=1.0.0')).then(() => null, (e: { status: number, body: string }) => e)
  t.match(v1, { status: 400, body: /^ERR_BAD_VSN: unsupported protocol vsn=1.0.0/ })
  const res = await fetch(`http://127.0.0.1:${port}/socket/websocket`)
  t.equal(res.status, 426, 'a plain GET on the socket path: Upgrade Required')
  await res.text()
})

t.test('join allowed for the token\'s user, refused for anyone else; broadcasts reach the right topic only', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const alice = phoenixSocket(t, port, tokenFor(42))
  const bob = phoenixSocket(t, port, tokenFor(7))

  const own = await join(alice, 'user:42')
  t.equal(own.status, 'ok')
  t.strictSame(own.response, { welcome: 42 }, 'join reply carries the module\'s reply')

  const refused = waitFor<{ topic: string, reason: string }>(endpoint, 'channel:refused')
  const other = await join(bob, 'user:42')
  t.equal(other.status, 'error', 'user 7 may not join user:42')
  t.strictSame(other.response, { reason: 'unauthorized' })
  t.match(await refused, { topic: 'user:42', reason: 'unauthorized' })
  t.equal((await join(bob, 'user:7')).status, 'ok')

  const seen = { alice: [] as ClientMessage[], bob: [] as ClientMessage[] }
  alice.onMessage((m) => { if ((m as ClientMessage).event === 'msg') seen.alice.push(m as ClientMessage) })
  bob.onMessage((m) => { if ((m as ClientMessage).event === 'msg') seen.bob.push(m as ClientMessage) })
  const received: unknown[] = []
  own.channel.on('msg', (payload) => { received.push(payload) })

  t.equal(endpoint.broadcast('user:42', 'msg', { n: 1 }), 1, 'one subscriber')
  t.equal(endpoint.broadcast('user:7', 'msg', { n: 2 }), 1)
  t.equal(endpoint.broadcast('user:99', 'msg', { n: 3 }), 0, 'nobody on user:99')
  const bobDone = nextMessage(bob, (m) => m.event === 'done')
  const aliceDone = nextMessage(alice, (m) => m.event === 'done')
  endpoint.broadcast('user:42', 'done', {})
  endpoint.broadcast('user:7', 'done', {})
  await Promise.all([aliceDone, bobDone])

  t.strictSame(seen.alice.map((m) => [m.topic, m.payload.n, m.join_ref, m.ref]), [['user:42', 1, null, null]], 'alice: her own broadcast only, with null join_ref and ref')
  t.strictSame(seen.bob.map((m) => [m.topic, m.payload.n]), [['user:7', 2]], 'bob: his own only; the refused join got nothing')
  t.strictSame(received, [{ n: 1 }], 'the channel callback fired')
  t.equal(endpoint.stats().topics, 2)
  t.throws(() => endpoint.broadcast('user:42', 'msg', [] as never), { code: 'ERR_INVALID_ARGUMENT', message: 'payload of "msg" on "user:42" must be a plain object, got an array' })
  t.throws(() => endpoint.broadcast('', 'msg', {}), { code: 'ERR_INVALID_ARGUMENT', message: 'topic must be a non-empty string, got ""' })
})

t.test('pushes reach handleIn in order and get replies; per-client pushes carry the join_ref', async (t) => {
  const { port } = await startEndpoint(t)
  const socket = phoenixSocket(t, port, tokenFor(5))
  const { channel, status } = await join(socket, 'user:5')
  t.equal(status, 'ok')
  const replies = await Promise.all([push(channel, 'ping'), push(channel, 'ping'), push(channel, 'ping')])
  t.strictSame(replies.map((r) => r.response.pong), [1, 2, 3], 'state carried from call to call, in order')
  t.strictSame(await push(channel, 'whoami'), { status: 'ok', response: { userId: 5, topic: 'user:5' } })
  t.strictSame(await push(channel, 'nope'), { status: 'error', response: { reason: 'no such event nope' } })

  const pushed = nextMessage(socket, (m) => m.event === 'pushed')
  t.strictSame(await push(channel, 'push_me', { x: 1 }), { status: 'ok', response: {} })
  const m = await pushed
  t.strictSame([m.topic, m.payload, m.ref], ['user:5', { x: 1 }, null])
  t.type(m.join_ref, 'string', 'a per-client push carries the channel\'s join_ref')

  // An async handleIn keeps order with the sync ones around it.
  const room = (await join(socket, 'room:order')).channel
  const counts = await Promise.all([push(room, 'slow', { ms: 30 }), push(room, 'count'), push(room, 'slow', { ms: 1 }), push(room, 'count')])
  t.strictSame(counts.map((r) => r.response.count), [1, 2, 3, 4], 'one callback at a time, in arrival order')
})

t.test('intercepted events are rewritten or dropped per client by handleOut', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const users = [1, 2, 3]
  const sockets = users.map((id) => phoenixSocket(t, port, tokenFor(id)))
  const channels = await Promise.all(sockets.map(async (s) => (await join(s, 'room:lobby')).channel))
  const got = users.map(() => [] as Array<[string, Record<string, unknown>]>)
  channels.forEach((channel, i) => {
    for (const event of ['tagged', 'secret', 'plain', 'end']) channel.on(event, (payload) => { (got[i] as unknown[]).push([event, payload]) })
  })
  endpoint.broadcast('room:lobby', 'tagged', { text: 'hi' })
  endpoint.broadcast('room:lobby', 'secret', { for: 2, text: 'only for 2' })
  endpoint.broadcast('room:lobby', 'plain', { text: 'all' })
  endpoint.broadcast('room:lobby', 'end', {})
  await Promise.all(sockets.map((s) => nextMessage(s, (m) => m.event === 'end')))
  t.strictSame(got[0], [['tagged', { text: 'hi', to: 1 }], ['plain', { text: 'all' }], ['end', {}]])
  t.strictSame(got[1], [['tagged', { text: 'hi', to: 2 }], ['secret', { for: 2, text: 'only for 2' }], ['plain', { text: 'all' }], ['end', {}]])
  t.strictSame(got[2], [['tagged', { text: 'hi', to: 3 }], ['plain', { text: 'all' }], ['end', {}]])
})

t.test('heartbeats are answered; the official client stays connected on them', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { idleTimeoutMs: 300 })
  const socket = phoenixSocket(t, port, tokenFor(1), { heartbeatIntervalMs: 40 })
  let closes = 0
  socket.onClose(() => { closes++ })
  // Ten replies to the client's own heartbeats: ~400 ms of nothing but heartbeats, past the idle timeout.
  for (let i = 0; i < 10; i++) {
    const reply = await nextMessage(socket, (m) => m.topic === 'phoenix')
    t.match(reply, { join_ref: null, topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} } })
  }
  t.equal(closes, 0, 'heartbeats keep the connection alive')
  t.equal(endpoint.stats().disconnects.idle_timeout, 0)

  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(2)))
  t.strictSame(await raw.request([null, '77', 'phoenix', 'heartbeat', {}]), [null, '77', 'phoenix', 'phx_reply', { status: 'ok', response: {} }])
})

t.test('a socket that sends nothing is closed after idleTimeoutMs, with a reason', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { idleTimeoutMs: 150 })
  const serverSide = waitFor<{ reason: string, code: number }>(endpoint, 'socket:closed')
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(3)))
  const started = Date.now()
  const closed = await raw.closed
  t.match(await serverSide, { reason: 'idle_timeout', code: CLOSE_CODES.idleTimeout })
  const elapsed = Date.now() - started
  t.strictSame(closed, { code: CLOSE_CODES.idleTimeout, reason: 'idle timeout: nothing received for 150 ms' })
  t.ok(elapsed >= 140, `not before the timeout (${elapsed} ms)`)
  t.equal(endpoint.stats().disconnects.idle_timeout, 1)

  // The official client, with heartbeats slower than the timeout, is closed too, and reconnects.
  const socket = phoenixSocket(t, port, tokenFor(4), { heartbeatIntervalMs: 10_000 })
  await opened(socket)
  t.match(await clientClosed(socket), { code: CLOSE_CODES.idleTimeout })
  await opened(socket)
  t.pass('the official client reconnected after the idle close')
})

t.test('reconnect and rejoin: a socket killed by the server comes back, rejoins and gets new broadcasts', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const socket = phoenixSocket(t, port, tokenFor(42))
  const { channel } = await join(socket, 'user:42')
  const msgs: unknown[] = []
  channel.on('msg', (p) => { msgs.push(p) })

  const [conn] = endpoint.connections()
  t.strictSame(conn?.topics, ['user:42'])
  const closed = clientClosed(socket)
  const rejoined = waitFor<{ id: string, topic: string }>(endpoint, 'channel:joined', (e) => e.id !== conn?.id)
  endpoint.broadcast('user:42', 'msg', { before: 'kick' })
  t.equal(endpoint.disconnect(conn?.id as string, 'kicked for the test'), true)
  t.equal(endpoint.disconnect('no-such-id'), false)
  t.strictSame(await closed, { code: CLOSE_CODES.server, reason: 'kicked for the test' })
  const again = await rejoined
  t.equal(again.topic, 'user:42', 'the client rejoined its topic on a new connection')
  t.equal(endpoint.stats().disconnects.server, 1)

  endpoint.broadcast('user:42', 'msg', { after: 'rejoin' })
  await nextMessage(socket, (m) => m.event === 'msg')
  t.strictSame(msgs, [{ before: 'kick' }, { after: 'rejoin' }], 'what was queued went out before the close; the rejoined channel receives new broadcasts')
  t.equal(endpoint.stats().channels, 1, 'the old channel is gone')
})

t.test('a crash in one channel\'s callback closes that channel only', async (t) => {
  terminated.length = 0
  const { endpoint, port } = await startEndpoint(t)
  const socket = phoenixSocket(t, port, tokenFor(13))
  const a = (await join(socket, 'room:a')).channel
  const b = (await join(socket, 'room:b')).channel
  const u = (await join(socket, 'user:13')).channel
  const crashes: Array<{ topic: string, callback: string }> = []
  endpoint.on('channel:crashed', (e) => crashes.push({ topic: e.topic, callback: e.callback }))

  // handleIn throws synchronously.
  const errored = new Promise<void>((resolve) => a.onError(() => resolve()))
  const errorFrame = nextMessage(socket, (m) => m.topic === 'room:a' && m.event === 'phx_error')
  t.strictSame(await push(a, 'crash'), { status: 'error', response: { reason: 'channel crashed' } }, 'the crashing push is answered at once')
  await errored
  t.strictSame(endpoint.connections()[0]?.topics.sort(), ['room:b', 'user:13'], 'the server dropped room:a before telling the client')
  // Left at once: the client would rejoin a channel that errored (after rejoinAfterMs).
  a.leave()
  t.match(await errorFrame, { event: 'phx_error', payload: {} })
  t.strictSame(crashes, [{ topic: 'room:a', callback: 'handleIn' }])
  t.match(terminated, [{ topic: 'room:a', reason: 'error', userId: 13 }], 'terminate ran with reason error')

  // The other channels of the same socket carry on.
  t.strictSame((await push(b, 'count')).response, { count: 1 })
  t.strictSame((await push(u, 'ping')).response, { pong: 1 })
  const gotB = nextMessage(socket, (m) => m.topic === 'room:b' && m.event === 'news')
  t.equal(endpoint.broadcast('room:a', 'news', {}), 0, 'the crashed channel is unsubscribed')
  endpoint.broadcast('room:b', 'news', { ok: true })
  t.strictSame((await gotB).payload, { ok: true })

  // An async rejection does the same.
  const bErrored = new Promise<void>((resolve) => b.onError(() => resolve()))
  t.strictSame(await push(b, 'reject'), { status: 'error', response: { reason: 'channel crashed' } })
  await bErrored
  b.leave()
  t.strictSame((await push(u, 'ping')).response, { pong: 2 }, 'still serving user:13')

  // handleOut throwing for user 13 only: the other subscriber of the topic is untouched.
  const other = phoenixSocket(t, port, tokenFor(14))
  const c14 = (await join(other, 'room:c')).channel
  const c13 = (await join(socket, 'room:c')).channel
  const c13Errored = new Promise<void>((resolve) => c13.onError(() => resolve()))
  const got14 = nextMessage(other, (m) => m.event === 'explode')
  endpoint.broadcast('room:c', 'explode', { boom: 1 })
  await c13Errored
  c13.leave()
  t.strictSame((await got14).payload, { boom: 1 })
  t.match(crashes.at(-1), { topic: 'room:c', callback: 'handleOut' })
  t.ok(c14, 'the other client keeps its channel')
  t.equal(endpoint.connections().length, 2, 'no socket was closed')
})

t.test('join crashes and bad join results are refused with a reason', async (t) => {
  const { endpoint, port } = await startEndpoint(t)
  const socket = phoenixSocket(t, port, tokenFor(1))
  const crashed = waitFor<{ callback: string }>(endpoint, 'channel:crashed')
  t.match(await join(socket, 'boom:1'), { status: 'error', response: { reason: 'join crashed' } }, 'join throwing: join crashed')
  t.match(await crashed, { callback: 'join' })
  t.match(await join(socket, 'bad:1'), { status: 'error', response: { reason: 'join crashed' } })
  t.match(await join(socket, 'room:x', { refuse: true }), { status: 'error', response: { reason: 'refused on request', topic: 'room:x' } }, 'a refusal with details')
  t.equal(endpoint.stats().channels, 0, 'nothing left of refused joins')
})

t.test('leave ends the channel: terminate runs, no more broadcasts', async (t) => {
  terminated.length = 0
  const { endpoint, port } = await startEndpoint(t)
  const socket = phoenixSocket(t, port, tokenFor(8))
  const { channel } = await join(socket, 'room:leave')
  await push(channel, 'count')
  const closed = waitFor<{ reason: string }>(endpoint, 'channel:closed')
  await new Promise<void>((resolve) => channel.leave().receive('ok', () => resolve()))
  t.match(await closed, { reason: 'leave' })
  t.strictSame(terminated, [{ topic: 'room:leave', reason: 'leave', userId: 8, count: 1 }])
  t.equal(endpoint.broadcast('room:leave', 'x', {}), 0)
  t.equal(endpoint.stats().channels, 0)
})

t.test('close() closes every socket with 1001 and leaves nothing behind', async (t) => {
  terminated.length = 0
  const endpoint = new Endpoint({ port: 0, secret: SECRET, channels: [['room:*', room]] })
  const { port } = await endpoint.listen()
  t.equal(endpoint.listen(), endpoint.listen(), 'listen() is idempotent')
  const socket = phoenixSocket(t, port, tokenFor(1), { reconnectAfterMs: () => 60_000 })
  await join(socket, 'room:1')
  const raw = await RawClient.connect(t, wsUrl(port, tokenFor(2)))
  const closedEvents: string[] = []
  endpoint.on('socket:closed', (e) => closedEvents.push(e.reason))
  const clientSaw = clientClosed(socket)
  await endpoint.close()
  t.strictSame(await raw.closed, { code: 1001, reason: 'server shutting down' })
  t.strictSame(await clientSaw, { code: 1001, reason: 'server shutting down' })
  t.strictSame(closedEvents, ['shutdown', 'shutdown'])
  t.match(terminated, [{ topic: 'room:1', reason: 'shutdown' }])
  t.match(endpoint.stats(), { connections: 0, channels: 0, topics: 0 })
  await t.rejects(endpoint.listen(), RuntimeClosedError)
  await t.rejects(fetch(`http://127.0.0.1:${port}/`), 'the port is closed')
  t.equal(endpoint.close(), endpoint.close(), 'close() is idempotent')
})

t.test('attached to a host app\'s http.Server: serves its path, leaves the server running', async (t) => {
  const server = http.createServer((_req, res) => res.end('host app'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as { port: number }).port
  const endpoint = new Endpoint({ server, secret: SECRET, channels: [['user:*', user]] })
  t.strictSame(await endpoint.listen(), { port })
  const socket = phoenixSocket(t, port, tokenFor(9), { reconnectAfterMs: () => 60_000 })
  t.equal((await join(socket, 'user:9')).status, 'ok')
  t.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'host app', 'the host keeps its own routes')
  const clientSaw = clientClosed(socket)
  await endpoint.close()
  await clientSaw
  t.equal(server.listening, true, 'the host\'s server is not closed')
  t.equal(server.listenerCount('upgrade'), 0, 'the endpoint removed its listener')
})
