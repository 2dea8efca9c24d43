// Batch codecs: every codec round-trips every kind of JSON-like envelope, in one thread and through a
// real MessageChannel with transfer; shape changes mid-stream; decoded batches own their memory;
// out-of-order and foreign bodies are protocol errors.
import t from 'tap'
import { MessageChannel } from 'node:worker_threads'
import { once } from 'node:events'
import type { BatchCodec, CodecName } from '../../lib/stage/codec/codec.js'
import { CloneCodec } from '../../lib/stage/codec/clone.js'
import { MsgpackCodec } from '../../lib/stage/codec/msgpack.js'
import { ShapeCodec } from '../../lib/stage/codec/shape.js'
import type { Envelope } from '../../lib/stage/envelope.js'
import { PushBatch } from '../../lib/stage/push-batch.js'

const FACTORIES: Record<string, () => BatchCodec> = {
  clone: () => new CloneCodec(),
  msgpack: () => new MsgpackCodec(),
  shape: () => new ShapeCodec(),
  'shape copyStrings': () => new ShapeCodec({ copyStrings: true }),
}

/** A sender and a receiver; `send` encodes and decodes as a port would (clone bodies are structured-cloned). */
function pair (make: () => BatchCodec): { send: (events: Envelope[], count?: number) => Envelope[], sender: BatchCodec, receiver: BatchCodec } {
  const sender = make()
  const receiver = make()
  return {
    sender,
    receiver,
    send: (events, count = events.length) => {
      const { body, transfer } = sender.encode(events, count)
      return receiver.decode(structuredClone(body, { transfer }))
    },
  }
}

/** The events as `runtime.push()` holds them (ids must be numbers, topic and event strings). */
function pushed (events: readonly Envelope[]): PushBatch {
  const batch = new PushBatch()
  for (const e of events) batch.add(e.id as number, e.ts, e.payload, e.topic, e.event)
  return batch
}

/** What a port would deliver of a push batch. */
function sendPushed (sender: BatchCodec, receiver: BatchCodec, batch: PushBatch): Envelope[] {
  const { body, transfer } = sender.encodePushed(batch)
  return receiver.decode(structuredClone(body, { transfer }))
}

const text100 = (i: number): string => `${i}`.padStart(10, '0') + 'abcdefghij'.repeat(9)

/** Every kind of value a JSON-like payload holds, and some it should not but may. */
function variety (): Envelope[] {
  return [
    { id: 1, ts: 1700000000000.125, payload: { n: 123, s: text100(1) } },
    { id: 2, ts: 1700000000000.25, topic: 'room:42', event: 'new_msg', payload: { n: -7.5, s: '' } },
    { id: 'str-id', ts: 0, payload: 'just a string' },
    { id: 4, ts: 1, payload: 42 },
    { id: 5, ts: 2, payload: null },
    { id: 6, ts: 3, payload: [1, 'two', { three: 3 }, [4]] },
    { id: 7, ts: 4, payload: { nested: { deeper: { deepest: { bottom: { too: { deep: 1 } } } } } } },
    { id: 8, ts: 5, payload: { t: true, f: false, z: null, e: {}, arr: [], big: 2 ** 53 - 1, tiny: 5e-324 } },
    { id: 9, ts: 6, payload: { inf: Infinity, ninf: -Infinity, nan: NaN, frac: 0.1 + 0.2 } },
    { id: 10, ts: 7, payload: { date: new Date(1700000000000) } },
    { id: 11, ts: 8, event: 'only-event', payload: { s: 'x' } },
    { id: 12, ts: 9, payload: { s: text100(12), n: 1 } }, // same keys as #1, other order
    { id: 13, ts: 10, payload: { many: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i])) } },
    { id: 14, ts: 11, payload: { 10: 'ten', 2: 'two', b: 'b', a: 'a' } },
    { id: 15, ts: 12, payload: { s: 'x', u: undefined } },
  ]
}

/** Strings beyond ASCII: Latin-1, BMP, astral (surrogate pairs). */
const unicode = (): Envelope[] => [
  { id: 1, ts: 1, topic: 'café', payload: { s: 'naïve – “quotes” € 日本語 😀', t: 'é'.repeat(200) } },
  { id: 2, ts: 2, payload: { s: 'plain ascii', k: { 'ключ': 'значение', '🔑': '🗝️' } } },
]

for (const [name, make] of Object.entries(FACTORIES)) {
  t.test(`${name}: round trip of every kind of envelope`, async (t) => {
    const { send } = pair(make)
    const events = variety()
    // msgpackr turns -0 into 0 and `undefined` map values are kept; compare what JSON-like data promises.
    t.same(send(events), events)
    t.strictSame(send(events.slice(0, 2)), events.slice(0, 2), 'plain envelopes come back exactly')
    const again = send(events)
    t.ok(again[9].payload !== null && (again[9].payload as { date: unknown }).date instanceof Date, 'a Date stays a Date')
  })

  t.test(`${name}: non-ASCII strings`, async (t) => {
    const { send } = pair(make)
    t.strictSame(send(unicode()), unicode())
    // A batch that is ASCII again after a non-ASCII one.
    const ascii = [{ id: 3, ts: 3, topic: 'café', payload: { s: 'back to ascii', t: 'x' } }]
    t.strictSame(send(ascii), ascii)
  })

  t.test(`${name}: empty batch, partial count, bad count`, async (t) => {
    const { send, sender } = pair(make)
    t.strictSame(send([]), [])
    const events = variety()
    t.same(send(events, 3), events.slice(0, 3))
    t.strictSame(send(events, 0), [])
    t.throws(() => sender.encode(events, events.length + 1), { code: 'ERR_INVALID_ARGUMENT' })
    t.throws(() => sender.encode(events, 1.5), { code: 'ERR_INVALID_ARGUMENT' })
    t.throws(() => sender.encode(events, -1), { code: 'ERR_INVALID_ARGUMENT' })
  })

  t.test(`${name}: shapes change mid-stream and mid-batch`, async (t) => {
    const { send } = pair(make)
    const a = (i: number): Envelope => ({ id: i, ts: i / 3, payload: { n: i, s: text100(i) } })
    const b = (i: number): Envelope => ({ id: i, ts: i / 3, topic: `user:${i}`, payload: { n: `${i}`, extra: { ok: i % 2 === 0 } } })
    const c = (i: number): Envelope => ({ id: i, ts: i / 3, payload: [i] })
    t.strictSame(send(Array.from({ length: 100 }, (_, i) => a(i))), Array.from({ length: 100 }, (_, i) => a(i)))
    t.strictSame(send(Array.from({ length: 100 }, (_, i) => b(i))), Array.from({ length: 100 }, (_, i) => b(i)))
    const mixed = Array.from({ length: 300 }, (_, i) => [a, b, c][i % 3](i))
    t.strictSame(send(mixed), mixed, 'alternating shapes')
    const runs = Array.from({ length: 300 }, (_, i) => [a, b, c][Math.floor(i / 50) % 3](i))
    t.strictSame(send(runs), runs, 'runs of shapes')
    // Every event its own shape (dynamic keys): more shapes than a codec learns.
    const dynamic = Array.from({ length: 600 }, (_, i) => ({ id: i, ts: 0, payload: { [`key${i}`]: i } }))
    t.strictSame(send(dynamic), dynamic)
    t.strictSame(send(dynamic.slice(0, 10)), dynamic.slice(0, 10))
    t.strictSame(send([a(1), a(2)]), [a(1), a(2)], 'the first shape still decodes')
  })

  t.test(`${name}: decoded events are fresh, plain and independent of the sender's buffers`, async (t) => {
    const { send } = pair(make)
    const source = Array.from({ length: 50 }, (_, i) => ({ id: i, ts: i, payload: { n: i, s: text100(i), o: { x: i } } }))
    const first = send(source)
    const snapshot = structuredClone(first)
    // The sender reuses its event objects and the codec its scratch memory for later batches.
    for (const e of source) { e.payload.n = -1; e.payload.s = 'overwritten'.repeat(20); e.payload.o.x = -1 }
    for (let k = 0; k < 5; k++) send(source)
    t.strictSame(first, snapshot, 'an earlier batch is unchanged by later encodes')
    t.not(first[0], source[0])
    t.not(first[0].payload, source[0].payload)
    t.equal(Object.getPrototypeOf(first[0]), Object.prototype)
    const p = first[0].payload as { n: number, added?: string }
    p.added = 'mine'
    p.n = 99
    t.equal(source[0].payload.n, -1, 'mutating a decoded event leaves the source alone')
    t.same(send(first.slice(0, 1)), [{ ...snapshot[0], payload: { ...(snapshot[0].payload as object), n: 99, added: 'mine' } }], 're-encoding a mutated decoded event')
  })

  t.test(`${name}: pushed events (PushBatch columns) arrive as the envelopes push() would have made`, async (t) => {
    const { sender, receiver } = pair(make)
    // Numeric ids only (push() numbers its events), with and without topic and event, every kind of payload.
    const all = [...variety(), ...unicode()].map((e, i) => ({ ...e, id: i + 1 }))
    t.strictSame(sendPushed(sender, receiver, pushed(all)), pushed(all).envelopes())
    t.same(sendPushed(sender, receiver, pushed(all)), all)
    // Runs of one shape, shapes alternating, a topic appearing mid-run, and a payload changing kind.
    const mixed = Array.from({ length: 3000 }, (_, i): Envelope => {
      const id = i + 1
      switch (Math.floor(i / 7) % 5) {
        case 0: return { id, ts: i / 3, payload: { n: i, s: text100(i) } }
        case 1: return { id, ts: i / 3, topic: `user:${i % 10}`, payload: { n: i, s: text100(i) } }
        case 2: return { id, ts: i / 3, topic: 't', event: 'e', payload: { n: `${i}`, s: text100(i) } }
        case 3: return { id, ts: i / 3, event: 'only', payload: i % 2 === 0 ? [i] : 'a string' }
        default: return { id, ts: i / 3, payload: { n: i, s: text100(i), extra: { deep: i % 3 === 0 } } }
      }
    })
    for (let round = 0; round < 3; round++) t.strictSame(sendPushed(sender, receiver, pushed(mixed)), mixed, `round ${round}`)
    // encode() and encodePushed() share the codec's learned shapes.
    const plain = mixed.slice(0, 20)
    const { body } = sender.encode(plain, plain.length)
    t.strictSame(receiver.decode(structuredClone(body)), plain)
    t.strictSame(sendPushed(sender, receiver, pushed(plain)), plain)
    t.strictSame(sendPushed(sender, receiver, new PushBatch()), [], 'an empty batch')
  })

  t.test(`${name}: pushed strings beyond ASCII (CJK, emoji, Latin-1, lone surrogates but with msgpack) come back exactly`, async (t) => {
    const { sender, receiver } = pair(make)
    const strings = ['日本語のテキスト', '😀👍🏽 family 👨‍👩‍👧', 'naïve café ÿ', '', 'x'.repeat(100)]
    // msgpack writes UTF-8, which has no lone surrogates (they become U+FFFD); the others keep them.
    if (name !== 'msgpack') strings.push('lone \ud800 high', 'lone \udc00 low', '\udc00\ud800 reversed')
    // One batch all ASCII but one event, one batch each, and ASCII again after.
    const events = strings.map((s, i): Envelope => ({ id: i + 1, ts: i, topic: s === '' ? undefined : `t:${s}`, payload: { s, n: i } }))
      .map((e) => { if (e.topic === undefined) delete e.topic; return e })
    t.strictSame(sendPushed(sender, receiver, pushed(events)), events)
    for (const e of events) t.strictSame(sendPushed(sender, receiver, pushed([e])), [e], JSON.stringify(e.payload))
    const ascii = [{ id: 99, ts: 0, payload: { s: 'ascii again', n: 1 } }]
    t.strictSame(sendPushed(sender, receiver, pushed(ascii)), ascii)
  })

  t.test(`${name}: through a MessageChannel with transfer`, async (t) => {
    const { port1, port2 } = new MessageChannel()
    t.teardown(() => { port1.close(); port2.close() })
    const sender = make()
    const receiver = make()
    const batches = [variety(), unicode(), [], variety().slice(0, 2), Array.from({ length: 1000 }, (_, i) => ({ id: i, ts: i / 7, payload: { n: i, s: text100(i) } }))]
    for (const events of batches) {
      const { body, transfer } = sender.encode(events, events.length)
      const received = once(port2, 'message')
      port1.postMessage(body, transfer)
      for (const ab of transfer) t.equal(ab.byteLength, 0, 'the transferred buffer is detached on the sending side')
      const [got] = await received as [unknown]
      t.same(receiver.decode(got), events)
    }
  })
}

for (const name of ['msgpack', 'shape'] as const satisfies readonly CodecName[]) {
  t.test(`${name}: a lost, repeated or foreign body is a protocol error`, async (t) => {
    const make = FACTORIES[name]
    const sender = make()
    const receiver = make()
    const events = variety()
    const first = sender.encode(events, events.length).body
    const second = sender.encode(events, events.length).body
    t.throws(() => receiver.decode(second), { code: 'ERR_PROTOCOL' }, 'the second batch before the first')
    t.same(receiver.decode(first), events)
    t.throws(() => receiver.decode(first), { code: 'ERR_PROTOCOL' }, 'the first batch again')
    t.same(receiver.decode(second), events)
    t.throws(() => receiver.decode('nope'), { code: 'ERR_PROTOCOL' })
    t.throws(() => receiver.decode(new ArrayBuffer(64)), { code: 'ERR_PROTOCOL' })
  })
}

t.test('clone: a body that is not an array is a protocol error', async (t) => {
  t.throws(() => new CloneCodec().decode({}), { code: 'ERR_PROTOCOL' })
})

t.test('shape: lone surrogates, -0 and undefined survive exactly', async (t) => {
  const { send } = pair(FACTORIES.shape)
  const events: Envelope[] = [{ id: -0, ts: -0, payload: { s: 'a\ud800b\udc00', u: undefined, z: -0 } }]
  const got = send(events)
  t.strictSame(got, events)
  t.ok(Object.is((got[0].payload as { z: number }).z, -0))
  t.ok(Object.hasOwn(got[0].payload as object, 'u'), 'a key holding undefined stays a key')
})

t.test('shape copyStrings: a batch whose strings are all empty', async (t) => {
  // Used to throw "s is not a function": the decoder was given '' instead of a reader.
  const { send } = pair(FACTORIES['shape copyStrings'])
  const events: Envelope[] = [{ id: 1, ts: 0, topic: '', payload: { s: '' } }]
  t.strictSame(send(events), events)
})

t.test('shape: a missing key is not taken for a key holding undefined', async (t) => {
  const { send } = pair(FACTORIES.shape)
  const withUndefined: Envelope[] = [{ id: 1, ts: 1, payload: { a: undefined, b: 1 } }]
  const withOther: Envelope[] = [{ id: 2, ts: 2, payload: { c: 5, b: 1 } }]
  t.strictSame(send(withUndefined), withUndefined)
  t.strictSame(send(withOther), withOther)
  const inherited: Envelope[] = [{ id: 3, ts: 3, payload: { toString: [1], b: 1 } }, { id: 4, ts: 4, payload: { x: [1], b: 1 } }]
  t.strictSame(send(inherited), inherited, 'an "other" key is checked as an own key')
})

t.test('shape: __proto__ keys and null-prototype objects', async (t) => {
  const { send } = pair(FACTORIES.shape)
  const polluted = JSON.parse('{ "id": 1, "ts": 1, "payload": { "__proto__": { "hacked": true }, "n": 1 } }') as Envelope
  const [got] = send([polluted])
  t.equal(({} as { hacked?: boolean }).hacked, undefined, 'no prototype pollution')
  t.equal((got.payload as { n: number }).n, 1)
  const bare = Object.assign(Object.create(null) as object, { a: 1 })
  const [got2] = send([{ id: 2, ts: 2, payload: bare }])
  t.same(got2.payload, { a: 1 })
})

t.test('shape: options are checked', async (t) => {
  t.throws(() => new ShapeCodec({ copyStrings: 'yes' as unknown as boolean }),
    { name: 'TypeError', message: 'options.copyStrings must be a boolean, got "yes"' })
})

t.test('shape: a random mix of JSON-like events round-trips', async (t) => {
  let seed = 42
  const rand = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
  const keys = ['a', 'b', 'c', 'd', 'é', 'n', 's']
  const value = (depth: number): unknown => {
    const r = rand()
    if (r < 0.2) return Math.floor(rand() * 1000) - 500
    if (r < 0.3) return rand() * 1e6
    if (r < 0.45) return keys[Math.floor(rand() * keys.length)].repeat(Math.floor(rand() * 20))
    if (r < 0.5) return rand() < 0.5
    if (r < 0.55) return null
    if (r < 0.62) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1))
    if (depth > 5) return 'leaf'
    const o: Record<string, unknown> = {}
    const n = Math.floor(rand() * 4)
    for (let i = 0; i < n; i++) o[keys[Math.floor(rand() * keys.length)]] = value(depth + 1)
    return o
  }
  const { send } = pair(FACTORIES.shape)
  for (let b = 0; b < 20; b++) {
    const events: Envelope[] = Array.from({ length: 50 }, (_, i) => {
      const e: Envelope = { id: b * 50 + i, ts: rand() * 1e12, payload: value(0) }
      if (rand() < 0.3) e.topic = `t${Math.floor(rand() * 3)}`
      return e
    })
    t.strictSame(send(events), events, `batch ${b}`)
  }
})

t.test('shape: batches the receiver has not released yet go standalone, and all decode in order', async (t) => {
  const sender = new ShapeCodec()
  const receiver = new ShapeCodec()
  const batch = (k: number): Envelope[] => Array.from({ length: 1000 }, (_, i) => ({ id: k * 1000 + i, ts: i, payload: { n: i, s: text100(k * 1000 + i) } }))
  const bodies = Array.from({ length: 40 }, (_, k) => sender.encode(batch(k), 1000))
  const inRing = bodies.filter((b) => b.transfer.length === 0).length
  t.ok(inRing > 0 && inRing < 40, `some batches in the ring (${inRing}), the rest standalone`)
  for (const b of bodies.slice(inRing)) t.ok(b.body instanceof ArrayBuffer)
  bodies.forEach((b, k) => t.strictSame(receiver.decode(structuredClone(b.body, { transfer: b.transfer })), batch(k), `batch ${k}`))
  const next = sender.encode(batch(40), 1000)
  t.equal(typeof next.body, 'number', 'once released, the ring is used again')
  t.strictSame(receiver.decode(next.body), batch(40))
})

t.test('shape: a small ring wraps around under a lagging receiver', async (t) => {
  const sender = new ShapeCodec({ ringBytes: 64 * 1024 })
  const receiver = new ShapeCodec()
  let seed = 7
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const pending: { body: unknown, events: Envelope[] }[] = []
  let id = 0
  let inRing = 0
  for (let k = 0; k < 400; k++) {
    const events: Envelope[] = Array.from({ length: 1 + rand(150) }, () => ({ id: id++, ts: id / 3, payload: { n: id, s: 'x'.repeat(rand(120)) } }))
    const { body } = sender.encode(events, events.length)
    if (typeof body === 'number') inRing++
    pending.push({ body, events })
    while (pending.length > rand(4)) {
      const next = pending.shift()
      if (next !== undefined && !t.strictSame(receiver.decode(next.body), next.events)) return
    }
  }
  for (const { body, events } of pending) t.strictSame(receiver.decode(body), events)
  t.ok(inRing > 200, `most batches went through the ring (${inRing} of 400)`)
})

t.test('shape: ringBytes 0 transfers every batch; options are checked', async (t) => {
  const { sender, receiver, send } = pair(() => new ShapeCodec({ ringBytes: 0 }))
  const events = variety()
  const { body, transfer } = sender.encode(events, events.length)
  t.ok(body instanceof ArrayBuffer)
  t.strictSame(transfer, [body])
  t.same(receiver.decode(body), events)
  t.same(send(events), events)
  t.throws(() => new ShapeCodec({ ringBytes: -1 }), { name: 'RangeError', message: 'options.ringBytes must be an integer from 0 to 1073741824, got -1' })
  t.throws(() => new ShapeCodec({ ringBytes: 1.5 }), RangeError)
  t.throws(() => new ShapeCodec().decode(64), { code: 'ERR_PROTOCOL', message: 'shape codec: a ring batch arrived before its ring' })
})
