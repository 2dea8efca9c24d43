// The producer's bounded buffer: FIFO order across the ring's wrap and growth, both keep modes,
// and the drop counts, checked by hand and against a plain-array model.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { DEFAULT_BUFFER_SIZE, EventBuffer, MAX_BUFFER_SIZE, type BufferKeep } from '../../lib/stage/buffer.js'

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('defaults: 10,000 events, keep the last', async (t) => {
  const b = new EventBuffer<number>()
  t.equal(DEFAULT_BUFFER_SIZE, 10_000)
  t.equal(b.bufferSize, 10_000)
  t.equal(b.bufferKeep, 'last')
  t.equal(b.length, 0)
  t.equal(b.dropped, 0)
  t.strictSame(b.take(5), [])
})

t.test('options are checked', async (t) => {
  t.throws(() => new EventBuffer({ bufferSize: -1 }),
    { name: 'RangeError', message: `options.bufferSize must be an integer from 0 to ${MAX_BUFFER_SIZE}, got -1` })
  t.throws(() => new EventBuffer({ bufferSize: 1.5 }), RangeError)
  t.throws(() => new EventBuffer({ bufferSize: Number.POSITIVE_INFINITY }), RangeError, 'bounded: no infinity')
  t.throws(() => new EventBuffer({ bufferSize: MAX_BUFFER_SIZE + 1 }), RangeError)
  t.throws(() => new EventBuffer({ bufferKeep: 'newest' as BufferKeep }),
    { name: 'TypeError', message: 'options.bufferKeep must be one of first|last, got "newest"' })
  const b = new EventBuffer<number>({ bufferSize: 3 })
  t.throws(() => b.push([1], 2), RangeError)
  t.throws(() => b.push([1], -1), RangeError)
  t.throws(() => b.take(-1), RangeError)
  t.throws(() => b.take(Number.NaN), RangeError)
})

t.test('FIFO across wrap-around and growth', async (t) => {
  const b = new EventBuffer<number>({ bufferSize: 100 })
  t.equal(b.push(range(1, 10), 10), 0)
  t.strictSame(b.take(7), range(1, 7))
  t.equal(b.push(range(11, 20), 10), 0, 'wraps the first 16 slots')
  t.equal(b.length, 13)
  t.equal(b.push(range(21, 60), 40), 0, 'grows while wrapped')
  t.strictSame(b.take(3), [8, 9, 10])
  t.strictSame(b.take(1000), range(11, 60), 'take(n) past the end takes what there is')
  t.equal(b.length, 0)
  t.strictSame(b.take(0), [])
  t.equal(b.push([1, 2, 3, 4], 2), 0, 'only the first `count` events')
  t.strictSame(b.take(10), [1, 2])
})

t.test('keep last: the oldest are dropped and counted', async (t) => {
  const b = new EventBuffer<number>({ bufferSize: 5, bufferKeep: 'last' })
  t.equal(b.push([1, 2, 3], 3), 0)
  t.equal(b.push([4, 5, 6, 7], 4), 2)
  t.equal(b.dropped, 2)
  t.strictSame(b.take(10), [3, 4, 5, 6, 7])
  b.push([1, 2, 3], 3)
  t.equal(b.push(range(8, 20), 13), 11, 'a batch larger than the buffer: the 3 held and its 8 oldest go')
  t.equal(b.dropped, 13)
  t.equal(b.length, 5)
  t.strictSame(b.take(10), range(16, 20))
  b.push([1, 2, 3, 4, 5], 5)
  t.equal(b.pushOne(6), 1)
  t.equal(b.pushOne(7), 1)
  t.equal(b.dropped, 15)
  t.strictSame(b.take(10), [3, 4, 5, 6, 7])
})

t.test('keep first: the newest are dropped and counted', async (t) => {
  const b = new EventBuffer<number>({ bufferSize: 5, bufferKeep: 'first' })
  t.equal(b.push([1, 2, 3], 3), 0)
  t.equal(b.push([4, 5, 6, 7], 4), 2)
  t.equal(b.dropped, 2)
  t.equal(b.pushOne(8), 1)
  t.equal(b.dropped, 3)
  t.strictSame(b.take(10), [1, 2, 3, 4, 5])
  t.equal(b.push(range(1, 13), 13), 8)
  t.strictSame(b.take(10), range(1, 5))
  t.equal(b.pushOne(9), 0)
  t.strictSame(b.take(1), [9])
})

t.test('bufferSize 0 keeps nothing and counts everything', async (t) => {
  for (const bufferKeep of ['first', 'last'] as const) {
    const b = new EventBuffer<number>({ bufferSize: 0, bufferKeep })
    t.equal(b.push([1, 2, 3], 3), 3)
    t.equal(b.pushOne(4), 1)
    t.equal(b.length, 0)
    t.equal(b.dropped, 4)
    t.strictSame(b.take(5), [])
  }
})

t.test('events that leave the buffer are not kept alive by it', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const refs: WeakRef<object>[] = []
  const make = (n: number) => Array.from({ length: n }, () => {
    const event = { payload: new Array(1000).fill(0) }
    refs.push(new WeakRef(event))
    return event
  })
  // Room to spare (8 slots), so a slot that is not cleared is not overwritten either.
  const taking = new EventBuffer<object>({ bufferSize: 8 })
  taking.push(make(2), 2)
  taking.take(1)
  // 3 events in 4 slots: the oldest is dropped, and its slot is not the one written next.
  const dropping = new EventBuffer<object>({ bufferSize: 3, bufferKeep: 'last' })
  dropping.push(make(3), 3)
  dropping.pushOne(make(1)[0] as object)
  await new Promise((resolve) => setImmediate(resolve)) // WeakRef targets live until the job ends
  gc()
  t.strictSame(refs.map((ref) => ref.deref() === undefined), [true, false, true, false, false, false])
  t.equal(taking.length + dropping.length, 4)
})

t.test('property: matches a plain-array model in both keep modes', async (t) => {
  let seed = 7
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 4294967296
  }
  for (const bufferKeep of ['first', 'last'] as const) {
    for (let run = 0; run < 100; run++) {
      const bufferSize = Math.floor(random() * 70)
      const b = new EventBuffer<number>({ bufferSize, bufferKeep })
      let model: number[] = []
      let dropped = 0
      let next = 0
      for (let step = 0; step < 300; step++) {
        const op = Math.floor(random() * 3)
        if (op === 0) {
          const n = Math.floor(random() * 40)
          const events = Array.from({ length: n }, () => next++)
          model = model.concat(events)
          const over = Math.max(0, model.length - bufferSize)
          const expected = over
          model = bufferKeep === 'last' ? model.slice(over) : model.slice(0, bufferSize)
          dropped += expected
          if (b.push(events, n) !== expected) t.fail(`${bufferKeep} run ${run}: push dropped count`)
        } else if (op === 1) {
          const e = next++
          const expected = model.length >= bufferSize ? 1 : 0
          if (bufferKeep === 'last') model = model.concat(e).slice(model.length + 1 - Math.min(bufferSize, model.length + 1))
          else if (expected === 0) model.push(e)
          dropped += expected
          if (b.pushOne(e) !== expected) t.fail(`${bufferKeep} run ${run}: pushOne dropped count`)
        } else {
          const n = Math.floor(random() * 30)
          const taken = b.take(n)
          const expected = model.splice(0, n)
          if (taken.length !== expected.length || taken.some((e, i) => e !== expected[i])) {
            t.fail(`${bufferKeep} run ${run}: take returned [${taken}] instead of [${expected}]`)
          }
        }
        if (b.length !== model.length || b.dropped !== dropped) t.fail(`${bufferKeep} run ${run}: length or dropped off`)
      }
    }
  }
  t.pass('200 runs of 300 operations')
})

t.test('unshift puts taken events back at the front, in order, across the ring boundary', async (t) => {
  const buffer = new EventBuffer<number>({ bufferSize: 16 })
  buffer.push([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 12)
  buffer.take(10) // the head is now deep into the ring
  buffer.push([13, 14, 15, 16, 17, 18], 6) // the tail wraps past the end of the 16 slots
  const taken = buffer.take(5)
  t.same(taken, [11, 12, 13, 14, 15])
  buffer.unshift(taken)
  t.equal(buffer.length, 8)
  t.same(buffer.take(8), [11, 12, 13, 14, 15, 16, 17, 18])
  const full = new EventBuffer<number>({ bufferSize: 2 })
  full.push([1, 2], 2)
  t.throws(() => full.unshift([0]), RangeError)
})
