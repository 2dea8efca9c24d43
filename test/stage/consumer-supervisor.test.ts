// The limited-concurrency stage (GenStage's ConsumerSupervisor): one task per
// event, never more than maxDemand at once, also while tasks fail and are retried.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { StageDroppedEvent } from '../../lib/index.js'
import { fixture } from '../helpers.js'

const stage = (name: string): string => fixture(`stages/${name}`)

interface TaskReport { maxSeen: number, done: number, attempts: number, running: number }
interface RecorderReport { seen: Array<{ n: number, doubled?: number, ranOn?: number }> }

t.test('at most maxDemand tasks run at once, and every result flows on', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 300 } },
    { id: 'work', stage: 'consumer_supervisor', module: stage('slow-task.ts'), subscribeTo: [{ id: 'source', maxDemand: 5, minDemand: 2 }] },
    { id: 'sink', stage: 'consumer', module: stage('recorder.ts'), subscribeTo: ['work'] },
  ] })
  t.teardown(() => rt.close())
  const report = await rt.call('work', { until: 300 }) as TaskReport
  t.equal(report.done, 300)
  t.equal(report.maxSeen, 5, 'tasks overlapped up to the limit and never past it')
  const seen = (await rt.call('sink', { until: 300 }) as RecorderReport).seen
  t.same(seen.map((p) => p.n).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i + 1), 'every event was worked on once')
  t.ok(seen.every((p) => p.doubled === p.n * 2))
})

t.test('results wait for a slow consumer downstream: tasks slow down, nothing overflows the buffer', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 300 } },
    // A buffer far smaller than the work: without back-pressure through the tasks it would overflow.
    { id: 'work', stage: 'consumer_supervisor', module: stage('slow-task.ts'), bufferSize: 8, subscribeTo: [{ id: 'source', maxDemand: 5 }] },
    { id: 'sink', stage: 'consumer', module: stage('recorder.ts'), args: { delayMs: 15 }, subscribeTo: [{ id: 'work', maxDemand: 4, minDemand: 0 }] },
  ] })
  t.teardown(() => rt.close())
  const drops: StageDroppedEvent[] = []
  rt.on('stage:dropped', (e) => drops.push(e))
  const seen = (await rt.call('sink', { until: 300 }, { timeout: 15_000 }) as RecorderReport).seen
  t.same(seen.map((p) => p.n).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i + 1), 'every result reached the slow consumer')
  t.same(drops, [], 'nothing dropped')
  t.equal(rt.stages().find((s) => s.id === 'work')?.droppedTotal, 0)
})

t.test('with no stage subscribed to it, task results are not kept as events (nor counted lost at the end)', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 50 } },
    { id: 'work', stage: 'consumer_supervisor', module: stage('slow-task.ts'), subscribeTo: [{ id: 'source', maxDemand: 5 }] },
  ] })
  const lost: number[] = []
  rt.on('stage:lost', (e: { count: number }) => lost.push(e.count))
  const report = await rt.call('work', { until: 50 }) as TaskReport
  t.equal(report.done, 50)
  t.equal(rt.stages().find((s) => s.id === 'work')?.buffered, 0, 'nothing buffered: results have nowhere to go')
  await rt.close()
  t.same(lost, [], 'nothing lost at shutdown')
  t.same(rt.metrics().lost, {})
})

t.test('failed tasks are retried within their slot: still never more than maxDemand at once', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 300 } },
    { id: 'work', stage: 'consumer_supervisor', module: stage('slow-task.ts'), args: { failEveryThird: true }, tasks: { maxRetries: 1 }, subscribeTo: [{ id: 'source', maxDemand: 4 }] },
  ] })
  t.teardown(() => rt.close())
  const report = await rt.call('work', { until: 300 + 100 }) as TaskReport
  t.equal(report.attempts, 400, '100 events needed a second attempt')
  t.ok(report.maxSeen <= 4, `at most 4 at once (saw ${report.maxSeen})`)
  const work = rt.stages().find((s) => s.id === 'work')
  t.equal(work?.failed, 0)
})

t.test('a task that keeps failing is dropped and counted, and the stage carries on', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 20 } },
    { id: 'work', stage: 'consumer_supervisor', module: stage('slow-task.ts'), args: { alwaysFail: true }, tasks: { maxRetries: 2 }, subscribeTo: [{ id: 'source', maxDemand: 3 }] },
  ] })
  t.teardown(() => rt.close())
  let dropped = 0
  rt.on('stage:dropped', (e: StageDroppedEvent) => { if (e.reason === 'task_failed') dropped += e.count })
  const report = await rt.call('work', { until: 60 }) as TaskReport
  t.equal(report.attempts, 60, 'three attempts each')
  await new Promise<void>((resolve) => { const check = (): void => { if (dropped >= 20) resolve(); else rt.once('stage:dropped', check) }; check() })
  t.equal(dropped, 20)
  t.equal(rt.stages().find((s) => s.id === 'work')?.failed, 20)
})

t.test('with the piscina runner, tasks run in other threads', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('counter-producer.ts'), args: { limit: 200 } },
    { id: 'work', stage: 'consumer_supervisor', module: stage('cpu-task.js'), tasks: { runner: 'piscina', maxThreads: 2 }, subscribeTo: [{ id: 'source', maxDemand: 8 }] },
    { id: 'sink', stage: 'consumer', module: stage('recorder.ts'), subscribeTo: ['work'] },
  ] })
  t.teardown(() => rt.close())
  const seen = (await rt.call('sink', { until: 200 }) as RecorderReport).seen
  t.equal(seen.length, 200)
  const workThread = rt.whichChildren().find((c) => c.id === 'work')?.threadId
  t.ok(seen.every((p) => typeof p.ranOn === 'number' && p.ranOn !== workThread), 'no task ran on the stage\'s own thread')
})
