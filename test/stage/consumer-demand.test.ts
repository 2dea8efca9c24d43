// The consumer side of the demand contract: GenStage's max_demand/min_demand rules, with the exact
// ask sequences GenStage produces (GenStage.Utils.split_batches).
import t from 'tap'
import { DemandExceededError } from '../../lib/errors.js'
import {
  ConsumerDemand, DEFAULT_MAX_DEMAND, type ChunkSink,
} from '../../lib/stage/consumer-demand.js'

/** Records chunks and asks in the order they happen: ['chunk', n] and ['ask', n]. */
function recorder<E>(): ChunkSink<E> & { log: [string, number][], chunks: E[][] } {
  const log: [string, number][] = []
  const chunks: E[][] = []
  return {
    log,
    chunks,
    chunk(events, count) {
      if (events.length !== count) throw new Error(`chunk: ${events.length} events with count ${count}`)
      log.push(['chunk', count])
      chunks.push([...events])
    },
    ask(count) {
      log.push(['ask', count])
    },
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('defaults and validation follow GenStage', async (t) => {
  const d = new ConsumerDemand()
  t.equal(DEFAULT_MAX_DEMAND, 1000)
  t.strictSame(d.snapshot(), { maxDemand: 1000, minDemand: 500, outstanding: 0, unprocessed: 0, credit: 0 })
  t.equal(d.chunkSize, 500)
  t.equal(new ConsumerDemand({ maxDemand: 3 }).minDemand, 1, 'div(3, 2)')
  t.equal(new ConsumerDemand({ maxDemand: 1 }).minDemand, 0)
  t.equal(new ConsumerDemand({ maxDemand: 10, minDemand: 0 }).chunkSize, 10)
  t.equal(new ConsumerDemand({ maxDemand: 10, minDemand: 9 }).chunkSize, 1)

  t.throws(() => new ConsumerDemand({ maxDemand: 0 }),
    { name: 'RangeError', message: 'options.maxDemand must be a positive integer, got 0' })
  t.throws(() => new ConsumerDemand({ maxDemand: 2.5 }), RangeError)
  t.throws(() => new ConsumerDemand({ maxDemand: Number.POSITIVE_INFINITY }), RangeError)
  t.throws(() => new ConsumerDemand({ maxDemand: 10, minDemand: 10 }),
    { name: 'RangeError', message: 'options.minDemand must be an integer from 0 to maxDemand - 1 (9), got 10' })
  t.throws(() => new ConsumerDemand({ maxDemand: 10, minDemand: -1 }), RangeError)
  t.throws(() => new ConsumerDemand({ maxDemand: 10, minDemand: 1.5 }), RangeError)
})

t.test('asks maxDemand at subscribe', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10 })
  t.equal(d.start(), 10)
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })
})

t.test('max 10 / min 5 receiving 10 events: two chunks of 5, an ask of 5 after each', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10, minDemand: 5 })
  d.start()
  const sink = recorder<number>()
  d.deliver(range(1, 10), 10, sink)
  t.strictSame(sink.log, [['chunk', 5], ['ask', 5], ['chunk', 5], ['ask', 5]])
  t.strictSame(sink.chunks, [range(1, 5), range(6, 10)])
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })
})

t.test('max 1000 / min 750 receiving 1000: four chunks of 250, an ask of 250 after each', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 1000, minDemand: 750 })
  t.equal(d.start(), 1000)
  const sink = recorder<number>()
  d.deliver(range(1, 1000), 1000, sink)
  t.strictSame(sink.log, [
    ['chunk', 250], ['ask', 250], ['chunk', 250], ['ask', 250], ['chunk', 250], ['ask', 250], ['chunk', 250], ['ask', 250],
  ])
  t.strictSame(sink.chunks.flat(), range(1, 1000), 'every event, in order')
  t.strictSame(d.snapshot(), { maxDemand: 1000, minDemand: 750, outstanding: 1000, unprocessed: 0, credit: 1000 })
})

t.test('the defaults (1000 / 500) receiving 1000: two chunks of 500, an ask of 500 after each', async (t) => {
  const d = new ConsumerDemand()
  d.start()
  const sink = recorder<number>()
  d.deliver(range(1, 1000), 1000, sink)
  t.strictSame(sink.log, [['chunk', 500], ['ask', 500], ['chunk', 500], ['ask', 500]])
})

t.test('small batches: no ask until the credit reaches minDemand, then a refill to maxDemand', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10, minDemand: 5 })
  d.start()
  const sink = recorder<number>()
  d.deliver([1, 2, 3], 3, sink)
  t.strictSame(sink.log, [['chunk', 3]])
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 7, unprocessed: 0, credit: 7 })
  d.deliver([4, 5, 6], 3, sink)
  t.strictSame(sink.log, [['chunk', 3], ['chunk', 3], ['ask', 6]])
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })
  // A batch of 7 after a refill: a chunk of 5 (→ ask 5), then the remaining 2 (credit 8: no ask).
  d.deliver(range(7, 13), 7, sink)
  t.strictSame(sink.log.slice(3), [['chunk', 5], ['ask', 5], ['chunk', 2]])
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 8, unprocessed: 0, credit: 8 })
})

t.test('minDemand 0: one chunk of maxDemand, then ask it all again', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10, minDemand: 0 })
  d.start()
  const sink = recorder<number>()
  d.deliver(range(1, 10), 10, sink)
  t.strictSame(sink.log, [['chunk', 10], ['ask', 10]])
  const one = new ConsumerDemand({ maxDemand: 1 })
  one.start()
  const sinkOne = recorder<number>()
  one.deliver([1], 1, sinkOne)
  t.strictSame(sinkOne.log, [['chunk', 1], ['ask', 1]])
})

t.test('a chunk that is the whole batch is the received array itself', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10 })
  d.start()
  const batch = [1, 2, 3]
  let seen: readonly number[] | undefined
  d.deliver(batch, 3, { chunk(events) { seen = events }, ask() {} })
  t.equal(seen, batch)
})

t.test('more events than the outstanding demand throw ERR_DEMAND_EXCEEDED and change nothing', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10 })
  const sink = recorder<number>()
  t.throws(() => d.deliver([1], 1, sink), {
    name: 'DemandExceededError', code: 'ERR_DEMAND_EXCEEDED', received: 1, outstanding: 0,
    message: 'received 1 events on a subscription with an outstanding demand of 0',
  }, 'before start nothing was asked')
  d.start()
  const err = t.throws(() => d.deliver(range(1, 11), 11, sink))
  t.ok(err instanceof DemandExceededError)
  t.ok(err instanceof Error)
  t.strictSame(sink.log, [], 'no chunk was handled')
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })

  d.receive(4)
  t.throws(() => d.receive(7), { code: 'ERR_DEMAND_EXCEEDED', received: 7, outstanding: 6 })
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 6, unprocessed: 4, credit: 10 })
})

t.test('receive / processed for asynchronous handlers', async (t) => {
  const d = new ConsumerDemand({ maxDemand: 10, minDemand: 5 })
  d.start()
  d.receive(10)
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 0, unprocessed: 10, credit: 10 })
  t.equal(d.processed(4), 0, 'credit 6 > 5')
  t.equal(d.processed(1), 5, 'credit 5 ≤ 5: refill')
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 5, unprocessed: 5, credit: 10 })
  t.equal(d.outstanding, 5)
  t.equal(d.unprocessed, 5)
  d.receive(5) // the refill may arrive before the rest is handled
  t.equal(d.processed(5), 5)
  t.equal(d.processed(5), 5)
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })

  t.throws(() => d.processed(1), {
    name: 'RangeError', message: 'processed count must be an integer from 1 to the 0 events received, got 1',
  })
  t.throws(() => d.receive(-1), RangeError)
  t.throws(() => d.receive(1.5), RangeError)
  t.throws(() => d.deliver([1], 2, recorder<number>()), RangeError)
  t.equal(d.start(), 10, 'start again after a resubscribe')
  t.strictSame(d.snapshot(), { maxDemand: 10, minDemand: 5, outstanding: 10, unprocessed: 0, credit: 10 })
})

t.test('property: a consumer never has more than maxDemand in flight and always asks again', async (t) => {
  // Against a producer that sends any amount up to what is outstanding, in random batches.
  let seed = 42
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    return seed / 4294967296
  }
  for (let run = 0; run < 200; run++) {
    const maxDemand = 1 + Math.floor(random() * 50)
    const minDemand = Math.floor(random() * maxDemand)
    const d = new ConsumerDemand({ maxDemand, minDemand })
    let owed = d.start() // the producer's view: asked and not yet sent
    let next = 0
    const got: number[] = []
    for (let step = 0; step < 100; step++) {
      if (owed === 0) t.fail(`run ${run}: stalled, nothing outstanding and nothing asked`)
      const n = 1 + Math.floor(random() * owed)
      owed -= n
      d.deliver(Array.from({ length: n }, () => next++), n, {
        chunk(events, count) {
          if (count > maxDemand - minDemand) t.fail('chunk too large')
          got.push(...events)
        },
        ask(count) { owed += count },
      })
      const { outstanding, credit } = d.snapshot()
      if (outstanding !== owed) t.fail(`run ${run}: outstanding ${outstanding} ≠ producer's ${owed}`)
      if (credit > maxDemand) t.fail(`run ${run}: credit ${credit} > maxDemand`)
    }
    if (got.length !== next || got.some((e, i) => e !== i)) t.fail(`run ${run}: events lost or reordered`)
  }
  t.pass('200 runs of 100 batches')
})
