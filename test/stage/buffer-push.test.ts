// The producer buffer and runtime.push() through real worker threads: both
// keep modes with a consumer that subscribes later, every drop reported
// (telemetry and runtime.stages(), also when the producer dies or restarts),
// push()'s high-water mark and `drain` (never early), a feeder that waits for
// drain losing nothing, a buffer that meets part of a new demand, and a
// producer_consumer's buffer, bounded like a producer's.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { Runtime, StageDroppedEvent } from '../../lib/index.js'
import { waitFor } from '../helpers.js'
import { stage, range, info, crash } from './support.js'
import type { Ledger } from './support.js'





/** Every `stage:dropped` from now on, and a way to wait until their counts reach a total. */
function dropLog (rt: Runtime): { events: StageDroppedEvent[], total: () => number, reach: (n: number) => Promise<void> } {
  const events: StageDroppedEvent[] = []
  rt.on('stage:dropped', (e) => events.push(e))
  const total = (): number => events.reduce((sum, e) => sum + e.count, 0)
  const reach = async (n: number): Promise<void> => {
    while (total() < n) await waitFor(rt, 'stage:dropped')
  }
  return { events, total, reach }
}

for (const [keep, kept] of [['last', range(91, 100)], ['first', range(1, 10)]] as const) {
  t.test(`bufferKeep '${keep}': 100 events pushed before any consumer, bufferSize 10 → a late consumer gets ${kept[0]}..${kept[9]}, 90 drops reported`, async (t) => {
    const rt = await start({ children: [
      { id: 'source', stage: 'producer', module: stage('queue.ts'), bufferSize: 10, bufferKeep: keep },
      { id: 'sinks', type: 'dynamic_supervisor' },
    ] })
    t.teardown(() => rt.close())
    const drops = dropLog(rt)
    for (let i = 1; i <= 100; i++) rt.push('source', i)
    await drops.reach(90)
    t.equal(drops.total(), 90, 'stage:dropped counts add up to 90')
    t.ok(drops.events.every((e) => e.stage === 'source' && e.reason === 'buffer_full'), 'each one names the stage and the reason buffer_full')
    t.match(info(rt, 'source'), { received: 100, emitted: 0, buffered: 10, dropped: 90, droppedTotal: 90, lost: 0 })
    t.equal(rt.pending('source'), 10, 'pending: the 10 in the buffer')

    await rt.startChild('sinks', { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['source'] })
    const first = await rt.call('sink', { until: 10 }) as Ledger
    t.strictSame(first.payloads, kept, `the buffer kept ${keep === 'last' ? 'the newest' : 'the oldest'} ten, in push order`)

    // Nothing else was hiding in the buffer: the next event pushed is the next one handled.
    rt.push('source', 'end')
    const after = await rt.call('sink', { untilPayload: 'end' }) as Ledger
    t.strictSame(after.payloads, [...kept, 'end'])
    // (`emitted` is bumped just after the send, so it can trail what the consumer already has.)
    t.match(info(rt, 'source'), { buffered: 0, droppedTotal: 90 })
    t.match(info(rt, 'sink'), { received: 11, handled: 11 })
    t.equal(drops.total(), 90, 'no further drops')
  })
}

t.test('push() returns false from the highWaterMark-th pending event on; drain comes once a consumer has taken the backlog', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts'), bufferSize: 100, highWaterMark: 20 },
    { id: 'sinks', type: 'dynamic_supervisor' },
  ] })
  t.teardown(() => rt.close())
  let drains = 0
  rt.on('drain', () => drains++)
  const results = range(1, 30).map((i) => rt.push('source', i))
  t.strictSame(results, [...Array<boolean>(19).fill(true), ...Array<boolean>(11).fill(false)],
    'true while fewer than 20 are pending, false from the 20th on')
  t.equal(rt.pending('source'), 30)
  t.equal(rt.pushMany('source', [31, 32]), false, 'pushMany says the same')

  // No consumer: the backlog cannot fall, so no drain yet (startChild below takes a thread start).
  const drained = waitFor<{ stage: string }>(rt, 'drain')
  t.equal(drains, 0, 'no drain while nothing takes the events')
  await rt.startChild('sinks', { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['source'] })
  t.strictSame(await drained, { stage: 'source' })
  t.ok(rt.pending('source') <= 10, `drain came at or under the low-water mark (10): pending ${rt.pending('source')}`)
  const ledger = await rt.call('sink', { until: 32 }) as Ledger
  t.strictSame(ledger.payloads, range(1, 32), 'every event, once, in order')
  t.equal(rt.push('source', 33), true, 'under the mark again')
  t.equal(drains, 1, 'one drain for one episode')
  t.equal(info(rt, 'source').droppedTotal, 0)
})

t.test('drain is not emitted while the producer is still putting what it was sent into its buffer', async (t) => {
  // One partition, consumed by a ledger that holds its first chunk: of the 51 events pushed, the
  // consumer can take 2 (maxDemand 2); the other 49 must wait in the producer's buffer, so nothing
  // may say that the backlog drained. The key function makes the producer's thread spend 300 ms
  // routing "slow" (the one event with demand) between taking the batch and buffering the rest.
  const rt = await start({ children: [
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), args: { hold: true }, subscribeTo: [{ id: 'source', partition: 0, maxDemand: 2, minDemand: 0 }] },
    { id: 'source', stage: 'producer', module: stage('queue.ts'), highWaterMark: 20, dispatcher: { type: 'partition', partitions: 1, key: `${stage('keys.ts')}#slowOnSlow` } },
  ] })
  t.teardown(() => rt.close())
  rt.push('source', 'ready')
  await rt.call('sink', { untilStarted: 1 })
  let drains = 0
  rt.on('drain', () => drains++)
  t.equal(rt.pushMany('source', ['slow', ...range(1, 49)]), false, 'over the high-water mark: a drain will be due')
  await rt.call('sink', 'release')
  await rt.call('sink', { untilPayload: 'slow' })
  t.equal(drains, 0, 'no drain while 49 events were pending')
  // Once the consumer has taken the backlog, the drain that was due comes.
  const drained = drains === 0 ? waitFor(rt, 'drain') : undefined
  const ledger = await rt.call('sink', { untilPayload: 49 }) as Ledger
  await drained
  t.strictSame(ledger.payloads, ['ready', 'slow', ...range(1, 49)])
})

t.test('a feeder that waits for drain loses nothing behind a slow consumer; one that does not is told by the drop counts', async (t) => {
  const N = 2000
  const spec = (id: string): unknown => ({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts'), bufferSize: 50 },
    { id, stage: 'consumer', module: stage('ledger.ts'), args: { delayMs: 1 }, subscribeTo: [{ id: 'source', maxDemand: 10 }] },
  ] })

  t.test('waiting for drain', async (t) => {
    const rt = await start(spec('sink'))
    t.teardown(() => rt.close())
    const drops = dropLog(rt)
    let waits = 0
    for (let i = 1; i <= N; i++) {
      if (!rt.push('source', i)) {
        waits++
        await waitFor(rt, 'drain')
      }
    }
    const ledger = await rt.call('sink', { until: N }, { timeout: 20_000 }) as Ledger
    t.ok(waits > 0, `the feeder had to wait (${waits} times): highWaterMark 25 was reached`)
    t.strictSame(ledger.payloads, range(1, N), `all ${N} events, once, in order`)
    t.match(info(rt, 'source'), { received: N, buffered: 0, droppedTotal: 0, lost: 0 })
    t.match(info(rt, 'sink'), { received: N, handled: N })
    t.equal(drops.total(), 0, 'no drop reported')
  })

  t.test('pushing on regardless', async (t) => {
    const rt = await start(spec('sink'))
    t.teardown(() => rt.close())
    const drops = dropLog(rt)
    for (let i = 1; i <= N; i++) rt.push('source', i)
    // bufferKeep 'last' keeps the newest: the last event pushed always gets through.
    rt.push('source', 'end')
    const ledger = await rt.call('sink', { untilPayload: 'end' }, { timeout: 20_000 }) as Ledger
    const source = info(rt, 'source')
    t.ok(source.droppedTotal > 0, `events were dropped (${source.droppedTotal})`)
    t.equal(ledger.payloads.length + source.droppedTotal, N + 1, 'pushed = handled + dropped')
    const numbers = ledger.payloads.slice(0, -1) as number[]
    t.ok(numbers.every((n, i) => i === 0 || n > (numbers[i - 1] as number)), 'what got through is in push order')
    await drops.reach(source.droppedTotal)
    t.equal(drops.total(), source.droppedTotal, 'stage:dropped telemetry adds up to droppedTotal')
  })
})

t.test('a consumer whose first demand is partly met from the buffer gets the rest from handleDemand', async (t) => {
  // The producer has 5 events buffered when the consumer asks 10: GenStage takes the 5 from the
  // buffer and asks handleDemand for the other 5. With minDemand 2 the consumer does not ask again
  // until its credit falls to 2, so a producer that forgets the 5 stalls it at 5 events.
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('emitter.ts') },
    { id: 'sinks', type: 'dynamic_supervisor' },
  ] })
  t.teardown(() => rt.close())
  await rt.call('source', { emit: 5 })
  await rt.startChild('sinks', { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 10, minDemand: 2 }] })
  const ledger = await rt.call('sink', { until: 100 }, { timeout: 3000 }).catch((err: Error) => err)
  t.notOk(ledger instanceof Error, 'the consumer got 100 events (a stall times out)')
  if (ledger instanceof Error) {
    const sink = info(rt, 'sink')
    t.comment(`stalled: sink received ${sink.received}, source demand gauge ${info(rt, 'source').demand}`)
    return
  }
  t.strictSame((ledger as Ledger).payloads.slice(0, 100), range(1, 100).map((n) => ({ n })), 'buffered events first, then fresh ones, in order')
})

t.test('drops are reported even when the producer then dies of an unhandled rejection', async (t) => {
  // bursty answers a demand of 5 with 100 events: 5 go out, 10 stay buffered, 85 are dropped,
  // and then a promise it left rejected kills the thread within the 100 ms drop-report window.
  const rt = await start({ children: [
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'source', maxDemand: 5, cancel: 'temporary' }] },
    { id: 'source', stage: 'producer', module: stage('bursty.ts'), args: { burst: 100, rejectAfterBurst: true }, bufferSize: 10, restart: 'temporary' },
  ] })
  t.teardown(() => rt.close())
  const drops = dropLog(rt)
  const exited = await waitFor<{ id: string, reason: { kind: string, error?: Error } }>(rt, 'child:exited', (e) => e.id === 'source')
  t.match(exited.reason, { kind: 'error', error: { code: 'ERR_ACTOR_CRASHED', message: /unhandled rejection.*bursty left a rejected promise behind/ } })
  t.equal(info(rt, 'source').lost, 10, 'the 10 buffered events were lost with the thread')
  // The drop report and the crash report leave the thread on the same port, in that order,
  // before the thread's exit: by now every report it sent has been emitted.
  t.equal(drops.total(), 85, 'stage:dropped telemetry reports the 85 drops too (the crash path flushes pending drop reports)')
})

t.test('droppedTotal counts each drop once, also while the producer is down or after it is gone', async (t) => {
  for (const restart of ['permanent', 'temporary'] as const) {
    t.test(`restart: ${restart}`, async (t) => {
      const rt = await start({ children: [
        { id: 'source', stage: 'producer', module: stage('queue.ts'), bufferSize: 10, restart },
      ] })
      t.teardown(() => rt.close())
      const drops = dropLog(rt)
      for (let i = 1; i <= 100; i++) rt.push('source', i)
      await drops.reach(90)
      t.match(info(rt, 'source'), { up: true, droppedTotal: 90, lost: 0 })
      // child:exited comes after the wiring has folded the dead instance's figures in, and before any restart.
      const exited = waitFor<{ id: string }>(rt, 'child:exited', (e) => e.id === 'source')
      const restarted = restart === 'permanent' ? waitFor(rt, 'child:restarted') : undefined
      await crash(rt, 'source')
      await exited
      t.match(info(rt, 'source'), { up: false, lost: 10 }, 'the 10 buffered events were lost with the thread')
      t.equal(info(rt, 'source').droppedTotal, 90, 'droppedTotal while the producer is down')
      if (restarted !== undefined) {
        await restarted
        t.match(info(rt, 'source'), { up: true, droppedTotal: 90, lost: 10 }, 'and after its restart')
      }
      t.equal(drops.total(), 90)
    })
  }
})

t.test('a producer_consumer\'s buffer is bounded too: what it makes beyond its consumers\' demand is kept up to bufferSize, the rest dropped and counted', async (t) => {
  // triple takes chunks of 10 and makes 30 events of them; its consumer asks 6 at a time.
  const N = 300
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts') },
    { id: 'triple', stage: 'producer_consumer', module: stage('tripler.ts'), bufferSize: 4, subscribeTo: [{ id: 'source', maxDemand: 20 }] },
    { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: [{ id: 'triple', maxDemand: 6 }] },
  ] })
  t.teardown(() => rt.close())
  const drops = dropLog(rt)
  for (let i = 1; i <= N; i++) rt.push('source', i)
  rt.push('source', 'end')
  // The newest event made always survives bufferKeep 'last'.
  const ledger = await rt.call('sink', { untilPayload: 'end.2' }) as Ledger
  const triple = info(rt, 'triple')
  t.equal(triple.received, N + 1)
  t.ok(triple.droppedTotal > 0, `triple dropped (${triple.droppedTotal})`)
  t.ok(triple.buffered <= 4)
  t.equal(ledger.payloads.length + triple.droppedTotal, 3 * (N + 1), 'made = handled + dropped')
  const rank = (p: unknown): number => {
    const [n, copy] = String(p).split('.')
    return (n === 'end' ? N + 1 : Number(n)) * 3 + Number(copy)
  }
  const ranks = ledger.payloads.map(rank)
  t.ok(ranks.every((r, i) => i === 0 || r > (ranks[i - 1] as number)), 'what got through is in the order made')
  await drops.reach(triple.droppedTotal)
  t.ok(drops.events.every((e) => e.stage === 'triple' && e.reason === 'buffer_full'))
  t.equal(drops.total(), triple.droppedTotal)
})
