// The three dispatchers through real worker threads (each stage in its own
// thread, events crossing MessagePorts): broadcast (every event to every
// consumer, selectors, the gen_stage#310 stall case), partition (each event
// on its key's partition, order kept), demand (each event exactly once).
// The pure state machines have their own tests in test/stage/dispatcher/.
//
// A broadcast producer holds its events until every subscription declared in
// the tree has arrived (GenStage's `demand: :accumulate`), so each declared
// consumer sees the stream from its first event, whether the producer is fed
// by runtime.push() or makes events in handleDemand.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { Runtime } from '../../lib/index.js'
import { hashKey } from '../../lib/stage/dispatcher/partition.js'
import { waitFor } from '../helpers.js'
import { stage, range, info, crash } from './support.js'
import type { Ledger } from './support.js'


interface CheckerReport { count: number, outOfOrder: number, chunks: number[], last: Record<string, number> }



/** Counts every child exit, to assert that no stage broke the demand contract (ERR_DEMAND_EXCEEDED crashes it). */
function exits (rt: Runtime): string[] {
  const log: string[] = []
  rt.on('child:exited', (e) => { if (e.reason.kind === 'error') log.push(`${e.id}: ${e.reason.error.message}`) })
  return log
}

t.test('broadcast: two consumers each get every event, in order', async (t) => {
  const N = 5000
  const rt = await start({ children: [
    { id: 'a', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: ['source'] },
    { id: 'b', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: [{ id: 'source', maxDemand: 100 }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' },
  ] })
  t.teardown(() => rt.close())
  const crashed = exits(rt)
  for (let n = 1; n <= N; n++) rt.push('source', { n })
  const [a, b] = await Promise.all([rt.call('a', { until: N }, { timeout: 20_000 }), rt.call('b', { until: N }, { timeout: 20_000 })]) as CheckerReport[]
  for (const [name, report, chunk] of [['a', a, 500], ['b', b, 50]] as const) {
    // N events, strictly increasing, the last being N: exactly 1..N, once each.
    t.equal(report?.count, N, `${name}: ${N} events`)
    t.equal(report?.outOfOrder, 0, `${name}: strictly increasing`)
    t.equal(report?.last.source, N, `${name}: the last one is ${N}`)
    t.ok(report?.chunks.every((n) => n <= chunk), `${name}: chunks of at most maxDemand - minDemand (${chunk})`)
  }
  t.equal(info(rt, 'a').received + info(rt, 'b').received, 2 * N, 'nothing sent twice')
  t.strictSame(crashed, [])
})

t.test('broadcast with selectors: a consumer that rejects everything does not stall the others', async (t) => {
  const N = 1500
  const rt = await start({ children: [
    { id: 'all', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
    { id: 'marks', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10, selector: `${stage('selectors.ts')}#mark` }] },
    { id: 'evens', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10, selector: `${stage('selectors.ts')}#even` }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' },
  ] })
  t.teardown(() => rt.close())
  const crashed = exits(rt)
  for (let i = 1; i <= N; i++) rt.push('source', i)
  const all = await rt.call('all', { until: N }, { timeout: 20_000 }) as Ledger
  t.strictSame(all.payloads, range(1, N), `the unfiltered consumer got 1..${N}, in order, although "marks" took none of them`)
  // Selectors are imported in the producer's thread when their subscription is linked, so the
  // filtered subscriptions may join a little after the stream started: from then on, nothing is missed.
  const evens = await rt.call('evens', { untilPayload: N }) as Ledger
  // (That they are in place from the first event is the next test's subject.)
  const first = evens.payloads[0] as number
  t.strictSame(evens.payloads, range(first, N).filter((n) => n % 2 === 0), `"evens" got every even event from its first (${first}) on, in order, and no odd one`)

  rt.push('source', 'mark')
  const marks = await rt.call('marks', { untilPayload: 'mark' }) as Ledger
  t.strictSame(marks.payloads, ['mark'], '"marks" got only what its selector accepts')
  t.same((await rt.call('all', { untilPayload: 'mark' }) as Ledger).payloads.length, N + 1)
  t.strictSame(crashed, [])
})

t.test('broadcast: subscriptions with a selector, declared in the tree, see the stream from its first event', async (t) => {
  // As subscriptions without a selector do: a tree's subscriptions are in place before the
  // producer takes its first pushed event, however long the producer takes to import a selector
  // (slow-selectors.ts takes 300 ms).
  const N = 500
  const rt = await start({ children: [
    { id: 'all', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
    { id: 'evens', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10, selector: `${stage('slow-selectors.ts')}#even` }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' },
  ] })
  t.teardown(() => rt.close())
  for (let i = 1; i <= N; i++) rt.push('source', i)
  // (A subscription that joined after the stream had passed never gets N: the call times out.)
  const evens = await rt.call('evens', { untilPayload: N }, { timeout: 2000 }) as Ledger
  t.strictSame(evens.payloads, range(1, N).filter((n) => n % 2 === 0), 'every even event, from 2')
})

t.test('broadcast: a consumer that dies while its subscription is being set up does not hold the others back', async (t) => {
  // The producer needs 300 ms to import the selector of "picky"'s subscription; "picky" crashes
  // before that. The news of its exit must not overtake the subscription it cancels, or a dead
  // subscription with no demand stays in the dispatcher and holds every other consumer at zero.
  const N = 200
  const rt = await start({ children: [
    { id: 'all', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
    { id: 'picky', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10, selector: `${stage('slow-selectors.ts')}#even` }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' },
  ] })
  t.teardown(() => rt.close())
  const restarted = waitFor<{ id: string }>(rt, 'child:restarted', (e) => e.id === 'picky')
  await crash(rt, 'picky')
  await restarted
  for (let i = 1; i <= N; i++) rt.push('source', i)
  const all = await rt.call('all', { until: N }, { timeout: 3000 }) as Ledger
  t.strictSame(all.payloads, range(1, N), 'the other consumer gets every event')
})

t.test('broadcast, consumers of maxDemand 10 and 4 (gen_stage#310): flows to the end, in order', async (t) => {
  // GenStage's broadcast dispatcher (with demand: :accumulate) sent the max-4 consumer 10 events
  // and stopped after 4 with 6 stuck; here no subscription is ever sent more than it asked for,
  // and nothing stalls. The producer makes its events on demand, as in the GenStage report.
  const N = 2000
  const rt = await start({ children: [
    { id: 'ten', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: [{ id: 'source', maxDemand: 10 }] },
    { id: 'four', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: [{ id: 'source', maxDemand: 4 }] },
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: N }, dispatcher: 'broadcast' },
  ] })
  t.teardown(() => rt.close())
  const crashed = exits(rt)
  const [ten, four] = await Promise.all([rt.call('ten', { until: N }), rt.call('four', { until: N })]) as CheckerReport[]
  for (const [name, report, chunk] of [['ten', ten, 5], ['four', four, 2]] as const) {
    t.equal(report?.count, N, `${name}: all ${N} events`)
    t.equal(report?.outOfOrder, 0, `${name}: in order`)
    t.equal(report?.last.source, N, `${name}: through to the last`)
    t.ok(report?.chunks.every((n) => n <= chunk), `${name}: chunks of at most ${chunk}`)
  }
  t.strictSame(crashed, [], 'no consumer was sent more than it asked (that crashes it with ERR_DEMAND_EXCEEDED)')
})

t.test('partition: each event lands on its key\'s partition, in order', async (t) => {
  const N = 2000
  const users = ['ann', 'bob', 'cid', 'dee', 'eve', 'fay', 'gus']
  const events = range(1, N).map((seq) => ({ user: users[seq % users.length] as string, seq }))
  const expected = [0, 1].map((p) => events.filter((e) => hashKey(e.user, 2) === p))
  t.ok(expected[0]?.length !== 0 && expected[1]?.length !== 0, 'precondition: the users spread over both partitions')

  const rt = await start({ children: [
    { id: 'p0', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', partition: 0, maxDemand: 10 }] },
    { id: 'p1', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', partition: 1, maxDemand: 50 }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: { type: 'partition', partitions: 2, key: `${stage('keys.ts')}#byUser` } },
  ] })
  t.teardown(() => rt.close())
  const crashed = exits(rt)
  for (const e of events) rt.push('source', e)
  const [p0, p1] = await Promise.all([
    rt.call('p0', { until: expected[0]?.length }, { timeout: 20_000 }),
    rt.call('p1', { until: expected[1]?.length }, { timeout: 20_000 }),
  ]) as Ledger[]
  t.strictSame(p0?.payloads, expected[0], 'partition 0: exactly its keys\' events, in push order (so per key too)')
  t.strictSame(p1?.payloads, expected[1], 'partition 1: likewise')
  t.equal((info(rt, 'p0').received) + info(rt, 'p1').received, N, 'nothing delivered twice')
  t.strictSame(crashed, [])
})

t.test('partition: a subscription without a valid partition is refused when the tree starts', async (t) => {
  // Otherwise the producer's thread throws while linking it, and keeps throwing after every restart.
  const key = `${stage('keys.ts')}#byUser`
  const cases: Array<[string, Record<string, unknown>]> = [
    ['no partition', { id: 'source' }],
    ['a partition out of range', { id: 'source', partition: 2 }],
  ]
  for (const [what, subscription] of cases) {
    const started = start({ children: [
      { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [subscription] },
      { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: { type: 'partition', partitions: 2, key } },
    ] })
    t.teardown(() => started.then((rt) => rt.close(), () => {}))
    await t.rejects(started, { code: 'ERR_SPEC_INVALID', path: 'children[0].subscribeTo[0].partition' }, what)
  }
})

for (const [maxDemand, minDemand, refill] of [[10, 5, 5], [1000, 750, 250]] as const) {
  t.test(`demand dispatcher: a consumer of maxDemand ${maxDemand} / minDemand ${minDemand} asks ${maxDemand}, then ${refill} after each chunk of ${refill} (GenStage's sequence, seen by the producer's handleDemand)`, async (t) => {
    const rt = await start({ children: [
      { id: 'source', stage: 'producer', module: stage('emitter.ts') },
      { id: 'sink', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: [{ id: 'source', maxDemand, minDemand }] },
    ] })
    t.teardown(() => rt.close())
    const total = maxDemand * 10
    const report = await rt.call('sink', { until: total }) as CheckerReport
    const demands = await rt.call('source', 'demands') as number[]
    t.equal(demands[0], maxDemand, 'first ask: maxDemand')
    t.ok(demands.length >= 1 + (total - maxDemand) / refill, `one handleDemand per ask (${demands.length})`)
    t.strictSame(demands.slice(1).filter((d) => d !== refill), [], `every later ask refills ${refill}`)
    t.strictSame(report.chunks.slice(0, 10 * maxDemand / refill), Array<number>(10 * maxDemand / refill).fill(refill), `chunks of ${refill}`)
    t.equal(report.outOfOrder, 0)
  })
}

for (const dispatcher of [{ type: 'demand' }, { type: 'demand', spread: true }] as const) {
  t.test(`demand dispatcher${'spread' in dispatcher ? ' (spread)' : ''}, two consumers: every event exactly once overall`, async (t) => {
    // source → w1, w2 (each event to one of them) → sink, which sees each event's origin.
    const N = 5000
    const rt = await start({ children: [
      { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['w1', 'w2'] },
      { id: 'w1', stage: 'producer_consumer', module: stage('tag.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
      { id: 'w2', stage: 'producer_consumer', module: stage('tag.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
      { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: N }, dispatcher },
    ] })
    t.teardown(() => rt.close())
    const crashed = exits(rt)
    const ledger = await rt.call('sink', { until: N }, { timeout: 20_000 }) as Ledger
    const ns = (ledger.payloads as Array<{ n: number }>).map((p) => p.n)
    t.equal(ns.length, N)
    t.strictSame([...ns].sort((x, y) => x - y), range(1, N), `each of 1..${N} exactly once`)
    for (const w of ['w1', 'w2']) {
      const mine = ns.filter((_, i) => ledger.from[i] === w)
      t.ok(mine.length > 0, `${w} took a share (${mine.length})`)
      t.ok(mine.every((n, i) => i === 0 || n > (mine[i - 1] as number)), `${w}'s events arrived in the order produced`)
    }
    t.equal(info(rt, 'w1').received + info(rt, 'w2').received, N, 'the producer sent each event to one consumer only')
    t.strictSame(crashed, [])
  })
}
