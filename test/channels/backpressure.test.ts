// Endpoint.writable(): what the broadcaster waits on before asking for more events. It holds back
// while a client is behind, lets go once that client catches up, and lets go of a stalled client
// after the grace period (which is then left to its outbound policy).
import t from 'tap'
import { RawClient, startEndpoint, tokenFor, wsUrl } from './support.js'
import type { Teardown } from './support.js'
import type { Endpoint } from '../../lib/channels/endpoint.js'

const LIMIT = 1024 * 1024
const HIGH_WATER = LIMIT / 2
const PAYLOAD = { blob: 'x'.repeat(4000) }

async function joined (t: Teardown, port: number, userId: number): Promise<RawClient> {
  const client = await RawClient.connect(t, wsUrl(port, tokenFor(userId)))
  const reply = await client.request(['1', '1', 'room:bp', 'phx_join', {}]) as unknown[]
  if ((reply[4] as { status?: string }).status !== 'ok') throw new Error(`join refused: ${JSON.stringify(reply)}`)
  return client
}

/** Broadcasts until some client is more than HIGH_WATER bytes behind (its socket paused). */
async function fillPast (endpoint: Endpoint): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    endpoint.broadcast('room:bp', 'blob', { ...PAYLOAD, i })
    if (i % 50 === 49) {
      await endpoint.flushed()
      if (endpoint.stats().maxPendingBytes > HIGH_WATER) return
    }
  }
  throw new Error('could not put a client behind')
}

/**
 * Broadcasts until user `userId`'s connection is more than HIGH_WATER bytes behind and stays so for
 * 100 ms: a paused client's kernel buffers go on taking bytes for a while (they grow as they fill).
 */
async function fillPastFor (endpoint: Endpoint, userId: number): Promise<void> {
  const pending = (): number => endpoint.connections().find((c) => c.assigns.userId === userId)?.pendingBytes ?? 0
  for (let i = 0; i < 8000; i++) {
    endpoint.broadcast('room:bp', 'blob', { ...PAYLOAD, i })
    if (i % 50 === 49) {
      await endpoint.flushed()
      if (pending() > HIGH_WATER) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        if (pending() > HIGH_WATER) return
      }
    }
  }
  throw new Error(`could not put user ${userId} behind`)
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin (promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })])
  clearTimeout(timer)
  return result
}

t.test('writable() resolves at once when every client is keeping up', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT })
  await joined(t, port, 1)
  endpoint.broadcast('room:bp', 'blob', PAYLOAD)
  await endpoint.flushed()
  t.ok(await settlesWithin(endpoint.writable(HIGH_WATER, 10_000), 200))
})

t.test('writable() waits while a client is behind, and resolves once it has read', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT })
  const slow = await joined(t, port, 1)
  slow.ws.pause()
  await fillPast(endpoint)
  const writable = endpoint.writable(HIGH_WATER, 60_000)
  t.notOk(await settlesWithin(writable, 300), 'held back while the client is behind')
  slow.ws.resume()
  t.ok(await settlesWithin(writable, 10_000), 'released once it caught up')
  t.ok(endpoint.stats().maxPendingBytes <= HIGH_WATER)
})

t.test('a stalled client holds writable() back for the grace period only', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT })
  const stalled = await joined(t, port, 1)
  await joined(t, port, 2)
  stalled.ws.pause()
  await fillPast(endpoint)
  const started = performance.now()
  t.notOk(await settlesWithin(endpoint.writable(HIGH_WATER, 500), 250), 'held back within the grace')
  await endpoint.writable(HIGH_WATER, 500)
  const waited = performance.now() - started
  t.ok(waited >= 450, `released after the grace (${waited.toFixed(0)} ms)`)
  t.ok(endpoint.stats().maxPendingBytes > HIGH_WATER, 'the stalled client is still behind: it no longer counts')
  t.ok(await settlesWithin(endpoint.writable(HIGH_WATER, 500), 100), 'and it does not hold back the next batch')
})

t.test('clients that stall one after another hold writable() back for one grace, not one each', async (t) => {
  const GRACE = 1500
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT })
  const first = await joined(t, port, 1)
  const second = await joined(t, port, 2)
  first.ws.pause()
  await fillPastFor(endpoint, 1)
  const started = performance.now()
  await endpoint.writable(HIGH_WATER, GRACE)
  t.ok(performance.now() - started >= GRACE - 50, 'the first stalled client held it back for its grace')

  // The second stalls now, while the first stays stalled: it crosses the mark only after the first
  // was let go (nothing was sent in between), and waiting its own grace would double the stall.
  second.ws.pause()
  await fillPastFor(endpoint, 2)
  t.ok(performance.now() - started < 2 * GRACE, 'still within the grace after the release (else the test proves nothing)')
  t.ok(await settlesWithin(endpoint.writable(HIGH_WATER, GRACE), 200), 'the second does not hold it back again')

  // Once the grace after the release has passed, a client that falls behind is waited for again.
  second.ws.resume()
  await new Promise((resolve) => setTimeout(resolve, 2 * GRACE))
  second.ws.pause()
  await fillPastFor(endpoint, 2)
  t.notOk(await settlesWithin(endpoint.writable(HIGH_WATER, GRACE), 300), 'a later stall is waited for')
  second.ws.resume()
})

t.test('closing the endpoint releases a waiting writable()', async (t) => {
  const { endpoint, port } = await startEndpoint(t, { outboundLimitBytes: LIMIT })
  const stalled = await joined(t, port, 1)
  stalled.ws.pause()
  await fillPast(endpoint)
  const writable = endpoint.writable(HIGH_WATER, 60_000)
  await endpoint.close({ timeoutMs: 500 })
  t.ok(await settlesWithin(writable, 1000))
})
