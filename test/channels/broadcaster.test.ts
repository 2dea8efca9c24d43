// builtin:broadcaster: a pipeline's last stage running the endpoint in its own thread. Events pushed
// into the pipeline reach the official client on their topic only; the host app broadcasts directly;
// events it cannot deliver are counted; a crash of its thread is restarted and clients come back.
import t from 'tap'
import type { Socket } from 'phoenix'
import { start } from '../../lib/runtime.js'
import type { Runtime } from '../../lib/runtime.js'
import type { StageDroppedEvent } from '../../lib/telemetry.js'
import { fixture, waitFor } from '../helpers.js'
import { SECRET, join, nextMessage, phoenixSocket, push, tokenFor } from './support.js'
import type { ClientMessage, Teardown } from './support.js'

async function startTree (t: Teardown, endpoint: Record<string, unknown> = {}): Promise<{ runtime: Runtime, port: number }> {
  const runtime = await start({
    children: [
      { id: 'source', stage: 'producer', module: 'builtin:queue' },
      {
        id: 'broadcaster',
        module: 'builtin:broadcaster',
        subscribeTo: [{ id: 'source', maxDemand: 50 }],
        endpoint: {
          port: 0,
          secret: SECRET,
          channels: [['user:*', fixture('channels/user.ts')], ['feed:*', fixture('channels/feed.ts')]],
          ...endpoint,
        },
      },
    ],
  })
  t.teardown(() => runtime.close({ timeout: 10_000 }))
  const { port } = await runtime.endpointAddress()
  return { runtime, port }
}

/** Every broadcast frame a client sees, at the socket level, whatever its topic. */
function collect (socket: Socket): ClientMessage[] {
  const seen: ClientMessage[] = []
  socket.onMessage((m) => {
    const message = m as ClientMessage
    if (!message.event.startsWith('phx_')) seen.push(message)
  })
  return seen
}

t.test('events pushed into the pipeline reach the subscribers of their topic, and no one else', async (t) => {
  const { runtime, port } = await startTree(t)
  const address = await runtime.endpointAddress()
  t.match(address, { host: '127.0.0.1', port, path: '/socket', url: `ws://127.0.0.1:${port}/socket` })
  const alice = phoenixSocket(t, port, tokenFor(1))
  const bob = phoenixSocket(t, port, tokenFor(2))
  const aliceSeen = collect(alice)
  const bobSeen = collect(bob)
  t.equal((await join(alice, 'user:1')).status, 'ok')
  t.equal((await join(bob, 'user:2')).status, 'ok')
  t.equal((await join(alice, 'user:2')).status, 'error', 'alice may not join bob\'s topic')

  const N = 500
  for (let i = 0; i < N; i++) {
    const user = i % 3 === 0 ? 2 : 1
    runtime.push('source', { seq: i, user }, { topic: `user:${user}`, event: 'msg' })
  }
  const expected = (user: number): number[] => Array.from({ length: N }, (_, i) => i).filter((i) => (i % 3 === 0 ? 2 : 1) === user)
  await Promise.all([
    nextMessage(alice, (m) => m.payload.seq === expected(1).at(-1), 10_000),
    nextMessage(bob, (m) => m.payload.seq === expected(2).at(-1), 10_000),
  ])
  t.same(aliceSeen.map((m) => m.payload.seq), expected(1), 'alice: all of hers, in order')
  t.same(bobSeen.map((m) => m.payload.seq), expected(2), 'bob: all of his, in order')
  t.ok(aliceSeen.every((m) => m.topic === 'user:1' && m.event === 'msg' && m.join_ref === null))
  t.ok(bobSeen.every((m) => m.topic === 'user:2'))
  const [info] = runtime.stages().filter((s) => s.id === 'broadcaster')
  t.equal(info?.kind, 'consumer')
  const stats = await runtime.call('broadcaster', { op: 'stats' }) as { delivered: number }
  t.equal(stats.delivered, N, 'every pushed event counted once as a timed delivery')
})

t.test('runtime.broadcast sends straight to a topic and answers how many subscribers it had', async (t) => {
  const { runtime, port } = await startTree(t)
  const socket = phoenixSocket(t, port, tokenFor(7))
  t.equal((await join(socket, 'user:7')).status, 'ok')
  const received = nextMessage(socket, (m) => m.event === 'note')
  t.equal(await runtime.broadcast('user:7', 'note', { text: 'hi' }), 1)
  t.match(await received, { topic: 'user:7', event: 'note', payload: { text: 'hi' } })
  t.equal(await runtime.broadcast('user:8', 'note', { text: 'nobody' }), 0)
  const stats = await runtime.call('broadcaster', { op: 'stats' }) as { connections: number, broadcasts: number }
  t.equal(stats.connections, 1)
  t.ok(stats.broadcasts >= 2)

  await t.rejects(runtime.broadcast('', 'note', {}), { code: 'ERR_INVALID_ARGUMENT', message: 'topic must be a non-empty string, got ""' })
  await t.rejects(runtime.broadcast('user:7', 42 as unknown as string, {}), { code: 'ERR_INVALID_ARGUMENT', message: 'event must be a non-empty string, got number' })
  // The protocol's own names would be obeyed by the client: phx_close closes its channel while the server keeps it.
  await t.rejects(runtime.broadcast('user:7', 'phx_close', {}), { code: 'ERR_INVALID_ARGUMENT', message: 'event is reserved by the Phoenix protocol (phx_*, chan_reply_*), got "phx_close"' })
  await t.rejects(runtime.broadcast('user:7', 'chan_reply_3', {}), { code: 'ERR_INVALID_ARGUMENT', message: /reserved by the Phoenix protocol/ })
  await t.rejects(runtime.broadcast('user:7', 'note', [] as unknown as object), { code: 'ERR_INVALID_ARGUMENT', message: 'payload must be a plain object, got an array' })
  await t.rejects(runtime.broadcast('user:7', 'note', {}, { via: 'source' }), { code: 'ERR_ACTOR_NOT_FOUND', message: /no broadcaster stage named "source" \(broadcasters: broadcaster\)/ })
  await t.rejects(runtime.broadcast('user:7', 'note', { n: 1n } as unknown as object), { code: 'ERR_INVALID_ARGUMENT' }, 'an unserialisable payload is refused by the endpoint')
})

t.test('a tree without a broadcaster says so', async (t) => {
  const runtime = await start({ children: [{ id: 'source', stage: 'producer', module: 'builtin:queue' }] })
  t.teardown(() => runtime.close())
  await t.rejects(runtime.broadcast('user:1', 'note', {}), { code: 'ERR_ACTOR_NOT_FOUND', message: 'the tree has no broadcaster stage (module builtin:broadcaster)' })
})

t.test('events with no topic, or a payload that cannot be serialised, are dropped and counted; the rest go on', async (t) => {
  const { runtime, port } = await startTree(t)
  const socket = phoenixSocket(t, port, tokenFor(3))
  t.equal((await join(socket, 'user:3')).status, 'ok')
  const drops: StageDroppedEvent[] = []
  runtime.on('stage:dropped', (e) => drops.push(e))
  const last = nextMessage(socket, (m) => m.payload.seq === 3)
  runtime.push('source', { seq: 1 }, { topic: 'user:3', event: 'msg' })
  runtime.push('source', { seq: 2 })
  runtime.push('source', new Uint8Array([1, 2]) as unknown as object, { topic: 'user:3' })
  runtime.push('source', 'not an object', { topic: 'user:3', event: 'msg' })
  runtime.push('source', { seq: 2.5 }, { topic: 'user:3', event: 'phx_close' })
  runtime.push('source', { seq: 3 }, { topic: 'user:3', event: 'msg' })
  const events: string[] = []
  socket.onMessage((m) => { events.push((m as { event: string }).event) })
  await last
  await waitFor<StageDroppedEvent>(runtime, 'stage:dropped', () => drops.reduce((n, d) => n + d.count, 0) >= 3)
  t.same(drops.map((d) => [d.stage, d.reason]), drops.map(() => ['broadcaster', 'undeliverable']))
  t.equal(drops.reduce((n, d) => n + d.count, 0), 3, 'the event with no topic, the string payload and the reserved event name')
  t.notOk(events.includes('phx_close'), 'the client never saw a phx_close')
})

t.test('the broadcaster thread crashes: it is restarted, and the official client reconnects, rejoins and receives', async (t) => {
  const { runtime, port } = await startTree(t, { port: await freePort() })
  const socket = phoenixSocket(t, port, tokenFor(5))
  const { channel, status } = await join(socket, 'feed:news')
  t.equal(status, 'ok')
  const restarted = waitFor(runtime, 'child:restarted', (e: { id: string }) => e.id === 'broadcaster')
  channel.push('exit', {})
  await restarted
  // The client rejoins on its own; broadcast until a message gets through.
  let got = false
  const delivered = nextMessage(socket, (m) => m.event === 'again', 15_000).then(() => { got = true })
  while (!got) {
    await runtime.broadcast('feed:news', 'again', { n: 1 }).catch(() => 0)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await delivered
  t.equal((await push(channel, 'hello')).status, 'ok', 'the rejoined channel answers pushes')
})

t.test('a port already in use fails the start with the reason', async (t) => {
  const { port } = await startTree(t, { port: await freePort() })
  await t.rejects(start({
    children: [{
      id: 'second',
      module: 'builtin:broadcaster',
      endpoint: { port, secret: SECRET, channels: [['feed:*', fixture('channels/feed.ts')]] },
    }],
  }), { code: 'ERR_ACTOR_INIT', message: /EADDRINUSE/ })
})

/** A port free right now: the restart test needs the same port after the thread restarts. */
async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
