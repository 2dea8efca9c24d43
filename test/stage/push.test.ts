// PushChannel without threads: a stand-in actor takes the push port, and the test decodes what a
// producer's thread would. Covers the paths the pipeline tests reach rarely or never: events held
// while the producer is down (bounded by bufferSize, by bufferKeep, counted as no_producer), the
// flush after attach, and the columns (PushBatch) that replaced the envelope array.
import t from 'tap'
import { EventEmitter } from 'eventemitter3'
import type { MessagePort } from 'node:worker_threads'
import type { ActorRef } from '../../lib/actor/ref.js'
import type { IngestMessage, StageBoot, StageControl } from '../../lib/protocol.js'
import { createCodec } from '../../lib/stage/codec/create.js'
import { StageCounters } from '../../lib/stage/counters.js'
import type { Envelope } from '../../lib/stage/envelope.js'
import { IdSource } from '../../lib/stage/ids.js'
import { PushBatch } from '../../lib/stage/push-batch.js'
import { PushChannel } from '../../lib/stage/push.js'
import type { StageSpec } from '../../lib/supervisor/stage-spec.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function spec (bufferKeep: 'first' | 'last', bufferSize = 5): StageSpec {
  return { id: 'source', kind: 'producer', module: 'builtin:queue', args: undefined, subscribeTo: [], dispatcher: { type: 'demand' } as StageSpec['dispatcher'], bufferSize, bufferKeep, highWaterMark: 100 }
}

/** An actor that only takes the push port; what arrives on it is decoded into `received`. */
function fakeActor (codec: string): { actor: ActorRef, received: Envelope[] } {
  const received: Envelope[] = []
  const counters = new StageCounters()
  const decoder = createCodec(codec)
  const actor = Object.assign(new EventEmitter(), {
    id: 'source',
    stage: (id: string) => (id === 'source' ? { id, counters: counters.buffer } as unknown as StageBoot : undefined),
    control: (message: StageControl, transfer?: MessagePort[]) => {
      if (message.type !== 'ingest') return
      const port = transfer?.[0] as MessagePort
      port.on('message', (m: IngestMessage) => { received.push(...decoder.decode(m.body)) })
      port.unref()
    },
  }) as unknown as ActorRef
  return { actor, received }
}

async function until (done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

for (const codec of ['shape', 'msgpack', 'clone']) {
  for (const keep of ['last', 'first'] as const) {
    t.test(`${codec}: while the producer is down pushes wait, bufferSize at most (bufferKeep '${keep}'), the rest counted as no_producer`, async (t) => {
      const drops: Array<[string, number, string]> = []
      const channel = new PushChannel(spec(keep), new IdSource(0), codec, { drain: () => {}, dropped: (s, n, r) => drops.push([s, n, r]) })
      t.teardown(() => channel.close())
      for (let i = 1; i <= 12; i++) channel.push({ i }, i % 2 === 0 ? { topic: `t${i}` } : undefined)
      await tick()
      t.strictSame(drops, [['source', 7, 'no_producer']])
      t.equal(channel.pending, 5)
      const { actor, received } = fakeActor(codec)
      channel.attach(actor)
      await until(() => received.length === 5)
      const kept = keep === 'last' ? [8, 9, 10, 11, 12] : [1, 2, 3, 4, 5]
      t.same(received.map((e) => e.payload), kept.map((i) => ({ i })))
      t.same(received.map((e) => e.id), kept, 'ids are those given at the push')
      t.same(received.map((e) => e.topic), kept.map((i) => (i % 2 === 0 ? `t${i}` : undefined)))
      t.ok(received.every((e, k) => k === 0 || e.ts >= (received[k - 1] as Envelope).ts), 'push times in push order')
      // Attached: the next pushes flow on the next tick.
      channel.pushMany([{ i: 13 }, { i: 14 }], { topic: 'many', event: 'e' })
      await until(() => received.length === 7)
      t.strictSame(received.slice(5).map(({ id, topic, event, payload }) => ({ id, topic, event, payload })), [
        { id: 13, topic: 'many', event: 'e', payload: { i: 13 } },
        { id: 14, topic: 'many', event: 'e', payload: { i: 14 } },
      ])
    })
  }
}

t.test('a push keeps the topic and event it was given, even if the caller reuses the meta object', async (t) => {
  const channel = new PushChannel(spec('last', 100), new IdSource(0), 'shape', { drain: () => {}, dropped: () => {} })
  t.teardown(() => channel.close())
  const { actor, received } = fakeActor('shape')
  channel.attach(actor)
  const meta: { topic?: string, event?: string } = { topic: 'a' }
  channel.push(1, meta)
  meta.topic = 'b'
  meta.event = 'x'
  channel.push(2, meta)
  await until(() => received.length === 2)
  t.strictSame(received.map(({ topic, event }) => ({ topic, event })), [{ topic: 'a', event: undefined }, { topic: 'b', event: 'x' }])
  t.notOk(Object.hasOwn(received[0] as object, 'event'), 'no event key where none was given')
})

t.test('PushBatch: columns grow past their first size, keepLast/keepFirst/clear keep the right rows', async (t) => {
  const batch = new PushBatch()
  for (let i = 1; i <= 3000; i++) batch.add(i, i / 2, { i }, i % 3 === 0 ? `t${i}` : undefined, undefined)
  t.equal(batch.length, 3000)
  t.strictSame(batch.envelope(2999), { id: 3000, ts: 1500, payload: { i: 3000 }, topic: 't3000' })
  batch.keepLast(10)
  t.same(batch.envelopes().map((e) => e.id), [2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000])
  batch.keepFirst(3)
  t.strictSame(batch.envelopes(), [
    { id: 2991, ts: 1495.5, payload: { i: 2991 }, topic: 't2991' },
    { id: 2992, ts: 1496, payload: { i: 2992 } },
    { id: 2993, ts: 1496.5, payload: { i: 2993 } },
  ])
  t.equal(batch.payloads[3], undefined, 'dropped rows hold no payload')
  batch.clear()
  t.equal(batch.length, 0)
  t.equal(batch.payloads[0], undefined, 'a cleared batch keeps no payload alive')
})
