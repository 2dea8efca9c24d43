// No leak after many connect/join/disconnect cycles: the endpoint runs alone in a child process
// (started with --expose-gc, so its heap is measured without the clients' garbage); clients connect,
// join, push, and go away in every manner (clean close, abrupt terminate, leave first, refused and
// crashing joins). Afterwards no connection and no channel is left, and the heap after full GCs is
// within 10% of what it was before the cycles. STAGEWIRE_CYCLES sets the count (default 10,000).
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { WebSocket } from 'ws'
import type { EndpointStats } from '../../lib/channels/events.js'
import { fixture } from '../helpers.js'
import { SECRET, join, opened, phoenixSocket, tokenFor, wsUrl } from './support.js'

const CYCLES = Number(process.env.STAGEWIRE_CYCLES ?? 10_000)
// Enough clients in flight to keep the server busy; the clients, not the server, are the bottleneck
// here (profiled: the server process is ~40% idle at this concurrency).
const CONCURRENCY = 50

/** Sends a command to the server process and resolves with its answer. */
async function ask<T> (child: ChildProcess, cmd: string): Promise<T> {
  const answer = once(child, 'message')
  child.send({ cmd })
  return (await answer)[0] as T
}

/** One raw client's life: connect, join, maybe push, maybe leave, then go (closing or vanishing). */
async function cycle (port: number, i: number): Promise<void> {
  const userId = i % 997
  const ws = new WebSocket(wsUrl(port, tokenFor(userId)))
  const frames: unknown[][] = []
  let wake: () => void = () => {}
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as unknown[])
    wake()
  })
  const next = async (): Promise<unknown[]> => {
    while (frames.length === 0) await new Promise<void>((resolve) => { wake = resolve })
    return frames.shift() as unknown[]
  }
  await once(ws, 'open')
  ws.send(JSON.stringify(['1', '1', `user:${userId}`, 'phx_join', {}]))
  ws.send(JSON.stringify(['2', '2', `room:${i % 13}`, 'phx_join', {}]))
  await next()
  await next()
  switch (i % 5) {
    case 0: // push, then close cleanly
      ws.send(JSON.stringify(['2', '3', `room:${i % 13}`, 'count', {}]))
      await next()
      break
    case 1: // leave first
      ws.send(JSON.stringify(['2', '3', `room:${i % 13}`, 'phx_leave', {}]))
      await next()
      break
    case 2: // a join refused by the module, one that crashes, one to someone else's topic
      ws.send(JSON.stringify(['3', '3', 'boom:1', 'phx_join', {}]))
      ws.send(JSON.stringify(['4', '4', `user:${userId + 1}`, 'phx_join', {}]))
      await next()
      await next()
      break
    case 3: // a channel that crashes
      ws.send(JSON.stringify(['2', '3', `room:${i % 13}`, 'crash', {}]))
      await next()
      await next()
      break
    default: // vanish without a close handshake
      ws.terminate()
      return
  }
  const closed = once(ws, 'close')
  ws.close()
  await closed
}

t.test(`${CYCLES} connect/join/disconnect cycles leave no channel behind and no heap growth`, async (t) => {
  const child = fork(fixture('channels/server.ts'), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: { ...process.env, SECRET },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const { port } = (await once(child, 'message'))[0] as { port: number }

  const run = async (count: number, offset: number): Promise<void> => {
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await cycle(port, offset + next++)
    }))
  }

  /** Connect, join, disconnect with the official client. */
  const official = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const socket = phoenixSocket(t, port, tokenFor(i))
      await opened(socket)
      t.equal((await join(socket, `user:${i}`)).status, 'ok')
      socket.disconnect()
    }
  }

  // Warm-up: JIT, pools and maps reach their working size before the baseline is taken.
  await run(1000, 0)
  await official(10)
  await ask(child, 'idle')
  const before = (await ask<{ heapUsed: number }>(child, 'heap')).heapUsed

  const started = Date.now()
  await run(CYCLES, 1000)
  await official(20)
  const { stats } = await ask<{ stats: EndpointStats }>(child, 'idle')
  const elapsed = Date.now() - started
  const after = (await ask<{ heapUsed: number }>(child, 'heap')).heapUsed

  t.equal(stats.connections, 0, 'no connection left')
  t.equal(stats.channels, 0, 'no live channel left')
  t.equal(stats.topics, 0, 'no topic left')
  const growth = (after - before) / before
  t.ok(growth < 0.10, `heap after GC ${(after / 1048576).toFixed(2)} MiB vs ${(before / 1048576).toFixed(2)} MiB before (${(growth * 100).toFixed(1)}%), ${CYCLES} cycles in ${elapsed} ms`)
  t.ok(stats.disconnects.client > CYCLES * 0.7, `clients went away: ${JSON.stringify(stats.disconnects)}`)
  t.equal((await ask<{ closed: boolean }>(child, 'close')).closed, true)
  await once(child, 'exit')
})
