// What a newcomer's bad input must not do: kill the host, lose events
// silently, or misfire timers.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { StageDroppedEvent, StageLostEvent } from '../../lib/index.js'
import { fixture, waitFor } from '../helpers.js'

const stage = (name: string): string => fixture(`stages/${name}`)

t.test('a pushed payload that cannot cross threads is dropped and counted; the host and the other events carry on', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: 'builtin:queue' },
    { id: 'sink', stage: 'consumer', module: stage('recorder.ts'), subscribeTo: ['source'] },
  ] })
  t.teardown(() => rt.close())
  const dropped = waitFor<StageDroppedEvent>(rt, 'stage:dropped')
  const cyclic: Record<string, unknown> = { n: 2 }
  cyclic.self = cyclic
  rt.push('source', { n: 1 })
  rt.push('source', cyclic)
  rt.push('source', { n: 3, s: Symbol('nope') })
  rt.push('source', { n: 4 })
  t.match(await dropped, { stage: 'source', count: 2, reason: 'unencodable' })
  const { seen } = await rt.call('sink', { until: 2 }) as { seen: Array<{ n: number }> }
  t.same(seen.map((p) => p.n), [1, 4], 'the encodable events arrive, in order')
  rt.push('source', { n: 5 })
  t.same((await rt.call('sink', { until: 3 }) as { seen: Array<{ n: number }> }).seen.map((p) => p.n), [1, 4, 5], 'the push port works after the reset')
})

t.test('events inside a handleEvents that throws are counted as lost', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: 'builtin:queue' },
    { id: 'sink', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false, throwAt: 10 }, subscribeTo: [{ id: 'source', maxDemand: 10, minDemand: 0 }] },
  ] })
  t.teardown(() => rt.close())
  const lost = waitFor<StageLostEvent>(rt, 'stage:lost', (e) => e.stage === 'sink')
  for (let n = 1; n <= 10; n++) rt.push('source', { n })
  const event = await lost
  t.equal(event.count, 10, 'the ten events of the chunk whose callback threw')
  t.equal(event.reason.kind, 'error')
  t.equal(rt.stages().find((s) => s.id === 'sink')?.lost, 10)
})

t.test('a second close() waits for the first', async (t) => {
  const rt = await start({ children: [{ id: 'slow', module: fixture('slow.ts'), args: { terminateMs: 300 } }] })
  const first = rt.close()
  await rt.close()
  t.equal(rt.state, 'closed')
  await first
})

t.test('timeouts past what Node timers take are refused, not run at once', async (t) => {
  await t.rejects(start({ children: [{ id: 'a', module: fixture('counter.ts'), startTimeoutMs: 3e9 }] }), {
    code: 'ERR_SPEC_INVALID', message: /children\[0\]\.startTimeoutMs must be <= 2147483647, got 3000000000/,
  })
  const rt = await start({ children: [{ id: 'a', module: fixture('counter.ts') }] })
  t.teardown(() => rt.close())
  await t.rejects(rt.call('a', 'count', { timeout: 3e9 }), { code: 'ERR_INVALID_ARGUMENT', message: /options\.timeout must be an integer from 1 to 2147483647/ })
  await t.rejects(rt.call('a', () => 1), { code: 'ERR_INVALID_ARGUMENT', message: /the request to actor "a" cannot be sent to a thread/ })
})

t.test('args that cannot reach a thread are refused by the spec', async (t) => {
  await t.rejects(start({ children: [{ id: 'a', module: fixture('counter.ts'), args: { f: () => 1 } }] }), {
    code: 'ERR_SPEC_INVALID', message: /children\[0\]\.args cannot be sent to a thread/,
  })
})

t.test('with the clone codec too, a payload that cannot cross is dropped once and the rest flows', async (t) => {
  const rt = await start({ codec: 'clone', children: [
    { id: 'source', stage: 'producer', module: 'builtin:queue' },
    { id: 'sink', stage: 'consumer', module: stage('recorder.ts'), subscribeTo: ['source'] },
  ] })
  t.teardown(() => rt.close())
  const dropped = waitFor<StageDroppedEvent>(rt, 'stage:dropped')
  rt.push('source', { n: 1 })
  rt.push('source', { n: 2, f: () => 2 })
  rt.push('source', { n: 3 })
  t.match(await dropped, { stage: 'source', count: 1, reason: 'unencodable' })
  t.same((await rt.call('sink', { until: 2 }) as { seen: Array<{ n: number }> }).seen.map((p) => p.n), [1, 3])
})

t.test('push refuses what cannot be data at all', async (t) => {
  const rt = await start({ children: [{ id: 'source', stage: 'producer', module: 'builtin:queue' }] })
  t.teardown(() => rt.close())
  t.throws(() => rt.push('source', undefined), { code: 'ERR_INVALID_ARGUMENT', message: 'push to "source": a payload must be plain data, got undefined' })
  t.throws(() => rt.push('source', () => 1), { code: 'ERR_INVALID_ARGUMENT', message: /got function/ })
  t.throws(() => rt.pushMany('source', null as unknown as unknown[]), { code: 'ERR_INVALID_ARGUMENT', message: 'pushMany to "source" takes an array of payloads, got object' })
})
