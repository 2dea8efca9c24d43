// Cancel modes through real worker threads, as GenStage's `cancel` option:
// what a consumer does when its producer's thread goes away, how it finds the
// restarted producer by name, and how the events that were inside a stage
// that died are accounted for (pushed = handled + lost + dropped).
import t from 'tap'
import { start } from '../../lib/index.js'
import type { Runtime, StageLostEvent } from '../../lib/index.js'
import { waitFor } from '../helpers.js'
import { stage, range, info, crash, pushRange } from './support.js'
import type { Ledger } from './support.js'


interface Exit { id: string, reason: { kind: string, error?: Error } }


function threadOf (rt: Runtime, id: string): number | undefined {
  return rt.whichChildren().find((c) => c.id === id)?.threadId
}



/** Exits of `id`, as they happen. */
function exitsOf (rt: Runtime, id: string): Exit[] {
  const log: Exit[] = []
  rt.on('child:exited', (e) => { if (e.id === id) log.push(e) })
  return log
}

const producerDown = (mode: string): RegExp => new RegExp(`its producer "source" went away \\(.*\\) and the subscription's cancel mode is ${mode}`)

t.test('temporary: the consumer keeps its thread, resubscribes to the restarted producer by name, and gets the new events', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', cancel: 'temporary' }] },
  ] })
  t.teardown(() => rt.close())
  const sinkExits = exitsOf(rt, 'sink')
  pushRange(rt, 1, 5)
  await rt.call('sink', { until: 5 })
  const thread = threadOf(rt, 'sink')

  const restarted = waitFor<{ id: string }>(rt, 'child:restarted')
  await crash(rt, 'source')
  t.equal((await restarted).id, 'source', 'the producer was restarted, and only it')
  pushRange(rt, 6, 10)
  const ledger = await rt.call('sink', { until: 10 }) as Ledger
  t.strictSame(ledger.payloads, range(1, 10), 'the same ledger, before and after, in order: the consumer never restarted')
  t.equal(threadOf(rt, 'sink'), thread, 'same thread')
  t.strictSame(sinkExits, [])
  t.match(rt.whichChildren(), [{ id: 'source', restarts: 1 }, { id: 'sink', restarts: 0 }])
  t.strictSame(info(rt, 'sink').subscribedTo, [{ producer: 'source', linked: true }])
})

t.test('permanent (the default): the consumer\'s thread exits with its producer\'s and is restarted', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['source'] },
  ] })
  t.teardown(() => rt.close())
  pushRange(rt, 1, 5)
  await rt.call('sink', { until: 5 })
  const thread = threadOf(rt, 'sink')

  const sinkExit = waitFor<Exit>(rt, 'child:exited', (e) => e.id === 'sink')
  const sinkRestart = waitFor<{ id: string }>(rt, 'child:restarted', (e) => e.id === 'sink')
  const sourceRestart = waitFor<{ id: string }>(rt, 'child:restarted', (e) => e.id === 'source')
  await crash(rt, 'source')
  t.match((await sinkExit).reason, { kind: 'error', error: { code: 'ERR_ACTOR_CRASHED', message: producerDown('permanent') } })
  await Promise.all([sinkRestart, sourceRestart])
  t.not(threadOf(rt, 'sink'), thread, 'a new thread')
  pushRange(rt, 6, 10)
  const ledger = await rt.call('sink', { until: 5 }) as Ledger
  t.strictSame(ledger.payloads, range(6, 10), 'the new instance subscribed to the new producer')
})

t.test('transient: the consumer stays up when its producer stops normally, and exits when it crashes', async (t) => {
  // Broadcast, so that both consumers get every event.
  const sourceSpec = { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' }
  const rt = await start({ maxRestarts: 10, children: [
    sourceSpec,
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', cancel: 'transient' }] },
    // For contrast: a permanent subscription stops its consumer on any exit of the producer.
    { id: 'strict', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['source'] },
  ] })
  t.teardown(() => rt.close())
  const sinkExits = exitsOf(rt, 'sink')
  pushRange(rt, 1, 3)
  await rt.call('sink', { until: 3 })
  const thread = threadOf(rt, 'sink')

  const strictExit = waitFor<Exit>(rt, 'child:exited', (e) => e.id === 'strict')
  await rt.terminateChild('root', 'source')
  t.match((await strictExit).reason, { kind: 'shutdown' }, 'permanent: its consumer stops too (cleanly)')
  // The producer starts again under the same name. Its links reach the consumer's thread after the
  // news of the stop did, so when the consumer gets new events it has already decided to stay.
  await rt.startChild('root', sourceSpec)
  pushRange(rt, 4, 6)
  const ledger = await rt.call('sink', { until: 6 }) as Ledger
  t.strictSame(ledger.payloads, range(1, 6), 'transient: the same consumer, resubscribed')
  t.equal(threadOf(rt, 'sink'), thread)
  t.strictSame(sinkExits, [], 'it never exited')

  const sinkExit = waitFor<Exit>(rt, 'child:exited', (e) => e.id === 'sink')
  const sinkRestart = waitFor<{ id: string }>(rt, 'child:restarted', (e) => e.id === 'sink')
  await crash(rt, 'source')
  t.match((await sinkExit).reason, { kind: 'error', error: { code: 'ERR_ACTOR_CRASHED', message: producerDown('transient') } },
    'a crash of the producer takes the transient consumer down')
  await sinkRestart
  t.not(threadOf(rt, 'sink'), thread)
})

t.test('events inside a producer that crashes are counted as lost', async (t) => {
  // The consumer (maxDemand 5, held busy) takes 5 of the 20 pushed events; 15 wait in the producer's
  // buffer when it crashes.
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), args: { hold: true }, subscribeTo: [{ id: 'source', maxDemand: 5, cancel: 'temporary' }] },
  ] })
  t.teardown(() => rt.close())
  const losses: StageLostEvent[] = []
  rt.on('stage:lost', (e) => losses.push(e))
  pushRange(rt, 1, 20)
  await rt.call('sink', { untilStarted: 3 })

  const restarted = waitFor(rt, 'child:restarted')
  await crash(rt, 'source')
  await restarted
  t.equal(losses.length, 1)
  t.match(losses[0], { stage: 'source', count: 15, reason: { kind: 'error', error: { code: 'ERR_ACTOR_CRASHED' } } })
  t.equal(info(rt, 'source').lost, 15)

  await rt.call('sink', 'release')
  pushRange(rt, 21, 25)
  const ledger = await rt.call('sink', { until: 10 }) as Ledger
  t.strictSame(ledger.payloads, [...range(1, 5), ...range(21, 25)], 'what it had received, then the new instance\'s events')
  t.equal(25, info(rt, 'sink').handled + info(rt, 'source').lost + info(rt, 'source').droppedTotal, 'pushed = handled + lost + dropped')
})

t.test('events queued inside a consumer that crashes are counted as lost', async (t) => {
  // 10 events arrive in one batch; the first chunk of 5 is being handled (held), 5 wait in the queue.
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), args: { hold: true }, subscribeTo: [{ id: 'source', maxDemand: 10 }] },
  ] })
  t.teardown(() => rt.close())
  const losses: StageLostEvent[] = []
  rt.on('stage:lost', (e) => losses.push(e))
  pushRange(rt, 1, 10)
  t.equal((await rt.call('sink', { untilStarted: 5 }) as Ledger).started, 5)
  t.match(info(rt, 'sink'), { received: 10, handled: 0, queued: 5 }, 'a chunk counts as handled once its callback returns')
  const exited = waitFor<Exit>(rt, 'child:exited', (e) => e.id === 'sink')
  await crash(rt, 'sink')
  await exited
  t.match(losses, [{ stage: 'sink', count: 10, reason: { kind: 'error' } }], 'the chunk in hand and the 5 queued events')
  t.equal(info(rt, 'sink').lost, 10)
})

t.test('a slow consumer, a full buffer and a producer crash: pushed = handled + lost + dropped', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts'), bufferSize: 50 },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), args: { delayMs: 10 }, subscribeTo: [{ id: 'source', maxDemand: 10, cancel: 'temporary' }] },
  ] })
  t.teardown(() => rt.close())
  let lostReported = 0
  let droppedReported = 0
  rt.on('stage:lost', (e) => { lostReported += e.count })
  rt.on('stage:dropped', (e) => { droppedReported += e.count })

  // 10 go to the consumer, 50 wait (bufferKeep 'last': 51..100), 40 are dropped.
  pushRange(rt, 1, 100)
  await rt.call('sink', { until: 15 })
  const restarted = waitFor(rt, 'child:restarted')
  await crash(rt, 'source')
  await restarted
  t.ok(lostReported > 0, `the crash lost what the buffer held (${lostReported})`)

  pushRange(rt, 101, 200)
  rt.push('source', 'end') // the newest event always survives bufferKeep 'last'
  const ledger = await rt.call('sink', { untilPayload: 'end' }, { timeout: 20_000 }) as Ledger
  const stages = rt.stages()
  const handled = info(rt, 'sink').handled
  const lost = stages.reduce((n, s) => n + s.lost, 0)
  const dropped = stages.reduce((n, s) => n + s.droppedTotal, 0)
  t.equal(handled, ledger.payloads.length)
  t.equal(lost, lostReported, 'stage:lost telemetry = runtime.stages() lost')
  t.ok(dropped > 0, `events were dropped (${dropped})`)
  t.equal(201, handled + lost + dropped, `pushed 201 = handled ${handled} + lost ${lost} + dropped ${dropped}`)
  while (droppedReported < dropped) await waitFor(rt, 'stage:dropped')
  t.equal(droppedReported, dropped, 'stage:dropped telemetry = runtime.stages() droppedTotal')
  const numbers = ledger.payloads.slice(0, -1) as number[]
  t.ok(numbers.every((n, i) => i === 0 || n > (numbers[i - 1] as number)), 'in push order across the restart')
})

t.test('events pushed while a consumer restarts reach its new instance, in order', async (t) => {
  // The consumer had asked for 10 and got 1 when it crashed; 15 events are pushed while it is down
  // and wait in the producer's buffer. Its new instance asks 10 and must get 1..10, then 11..15.
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10 }] },
  ] })
  t.teardown(() => rt.close())
  rt.push('source', 'first')
  await rt.call('sink', { untilPayload: 'first' })
  let pushed = false
  rt.on('child:exited', (e) => {
    if (e.id === 'sink' && !pushed) { pushed = true; pushRange(rt, 1, 15) }
  })
  const restarted = waitFor(rt, 'child:restarted')
  await crash(rt, 'sink')
  await restarted
  const ledger = await rt.call('sink', { until: 15 }, { timeout: 3000 }).catch((err: Error) => err)
  if (ledger instanceof Error) {
    t.fail(`the new instance stalled: ${ledger.message}; it received ${info(rt, 'sink').received} events, ${info(rt, 'source').buffered} still buffered`)
    return
  }
  t.strictSame((ledger as Ledger).payloads, range(1, 15), 'all 15, in push order')
})
