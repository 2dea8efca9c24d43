// Stages through real worker threads: a 1,000,000-event pipeline with exact
// counts and order, in three threads and fused in one; the GenStage ask
// sequence seen by a real consumer; placement.
import t from 'tap'
import { start } from '../../lib/index.js'
import { fixture } from '../helpers.js'

const stage = (name: string): string => fixture(`stages/${name}`)
const N = 1_000_000

interface CheckerReport { count: number, outOfOrder: number, untagged: number, chunks: number[] }

for (const placement of ['three threads', 'one thread'] as const) {
  t.test(`${placement}: producer → producer_consumer → consumer moves ${N} events, exact and in order`, async (t) => {
    const thread = placement === 'one thread' ? { thread: 'pipeline' } : {}
    const rt = await start({ children: [
      { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: N }, ...thread },
      { id: 'tag', stage: 'producer_consumer', module: stage('tag.ts'), subscribeTo: ['source'], ...thread },
      { id: 'sink', stage: 'consumer', module: stage('checker.ts'), subscribeTo: ['tag'], ...thread },
    ] })
    t.teardown(() => rt.close())
    let restarts = 0
    rt.on('child:restarted', () => restarts++)
    const report = await rt.call('sink', { until: N }, { timeout: 100_000 }) as CheckerReport
    t.equal(report.count, N, 'every event arrived once')
    t.equal(report.outOfOrder, 0, 'in the order produced')
    t.equal(report.untagged, 0, 'each one through the middle stage')
    t.ok(report.chunks.every((n) => n <= 500), 'chunks never exceed maxDemand - minDemand (1000 - 500)')
    const stages = Object.fromEntries(rt.stages().map((s) => [s.id, s]))
    t.equal(stages.source?.emitted, N)
    t.equal(stages.tag?.received, N)
    t.equal(stages.tag?.emitted, N)
    t.equal(stages.sink?.received, N)
    t.equal(stages.sink?.handled, N)
    t.equal(restarts, 0, 'no stage crashed: no producer ever sent more than was asked (ERR_DEMAND_EXCEEDED would have)')
    t.same(rt.whichChildren().map((c) => c.id), placement === 'one thread' ? ['pipeline'] : ['source', 'tag', 'sink'])
  })
}

t.test('a real consumer with maxDemand 10 / minDemand 5 handles chunks of 5 (GenStage: two chunks of 5, an ask of 5 after each)', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 1000 } },
    { id: 'sink', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false }, subscribeTo: [{ id: 'source', maxDemand: 10, minDemand: 5 }] },
  ] })
  t.teardown(() => rt.close())
  const report = await rt.call('sink', { until: 1000 }) as CheckerReport
  t.equal(report.count, 1000)
  t.same(new Set(report.chunks), new Set([5]), 'every chunk is exactly 5')
})

t.test('in-thread placement (thread: "main") runs the same modules with the same semantics, without a worker', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 100_000 }, thread: 'main' },
    { id: 'tag', stage: 'producer_consumer', module: stage('tag.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }], thread: 'main' },
    { id: 'sink', stage: 'consumer', module: stage('checker.ts'), subscribeTo: [{ id: 'tag', maxDemand: 10, minDemand: 5 }], thread: 'main' },
  ] })
  t.teardown(() => rt.close())
  const report = await rt.call('sink', { until: 100_000 }) as CheckerReport
  t.equal(report.count, 100_000)
  t.equal(report.outOfOrder, 0)
  t.equal(report.untagged, 0)
  t.same(new Set(report.chunks), new Set([5]))
  t.same(rt.whichChildren().map((c) => [c.id, c.threadId]), [['main', 0]])
})

t.test('a stage in the main thread that throws is restarted, and the host carries on', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), thread: 'main' },
    { id: 'sink', stage: 'consumer', module: stage('checker.ts'), args: { requireTag: false, throwAt: 5000 }, subscribeTo: ['source'], thread: 'main' },
  ] })
  t.teardown(() => rt.close())
  const restarted = await new Promise<{ id: string, reason: { kind: string, error?: Error } }>((resolve) => rt.once('child:restarted', resolve))
  t.equal(restarted.id, 'main')
  t.match(restarted.reason, { kind: 'error', error: { code: 'ERR_ACTOR_CRASHED', message: /checker threw at 5000/ } })
  t.ok((await rt.call('sink', { until: 1000 }) as CheckerReport).count >= 1000, 'the restarted stages flow again')
})
