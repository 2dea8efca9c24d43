// The partition dispatcher driven by hand, asserting its whole state after each call, as GenStage's
// test/gen_stage/partition_dispatcher_test.exs does; the numbers are GenStage's where the rules are.
import t from 'tap'
import { NO_EVENTS } from '../../../lib/stage/dispatcher/dispatcher.js'
import { hashKey, PartitionDispatcher, type PartitionDispatcherOptions } from '../../../lib/stage/dispatcher/partition.js'
import { Recorder } from './recorder.js'
import { prng } from '../../helpers.js'


/** Even numbers to partition 0, odd to partition 1, unless given another hash. */
function setup(options: Partial<PartitionDispatcherOptions<number>> = {}) {
  const out = new Recorder<string, number>()
  const d = new PartitionDispatcher<string, number>(out, { partitions: 2, hash: (e) => e % 2, ...options })
  type Row = [subscription: string | undefined, demand: number, queued: number]
  const state = (partitions: Row[], waiting: number, pending = 0, infos = 0) => ({
    kind: 'partition',
    partitions: partitions.map(([subscription, demand, queued], partition) => ({ partition, subscription, demand, queued })),
    waiting, pending, infos,
  })
  return { out, d, state }
}

t.test('subscribes, asks and cancels: cancelled demand becomes pending', async (t) => {
  const { d, state } = setup()
  t.equal(d.subscribe('A', { partition: 0 }), 0)
  t.strictSame(d.snapshot(), state([['A', 0, 0], [undefined, 0, 0]], 0))
  t.equal(d.ask(10, 'A'), 10)
  t.strictSame(d.snapshot(), state([['A', 10, 0], [undefined, 0, 0]], 10))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([[undefined, 0, 0], [undefined, 0, 0]], 10, 10))

  // Subscribe again, elsewhere: the pending demand covers the next ask.
  t.equal(d.subscribe('A', { partition: 1 }), 0)
  t.equal(d.ask(5, 'A'), 0)
  t.strictSame(d.snapshot(), state([[undefined, 0, 0], ['A', 5, 0]], 10, 5))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([[undefined, 0, 0], [undefined, 0, 0]], 10, 10))
})

t.test('subscribes, asks and dispatches', async (t) => {
  const { out, d, state } = setup({ partitions: 1, hash: () => 0 })
  d.subscribe('A', { partition: 0 })
  t.equal(d.ask(3, 'A'), 3)
  t.equal(d.dispatch([1], 1), NO_EVENTS)
  t.strictSame(out.take(), [['A', [1], 1]])
  t.strictSame(d.snapshot(), state([['A', 2, 0]], 2))

  t.equal(d.ask(3, 'A'), 3)
  t.strictSame(d.snapshot(), state([['A', 5, 0]], 5))
  t.strictSame(d.dispatch([2, 5, 6, 7, 8, 9, 11], 7), [9, 11], 'beyond waiting: leftovers for the buffer')
  t.strictSame(out.take(), [['A', [2, 5, 6, 7, 8], 5]])
  t.strictSame(d.snapshot(), state([['A', 0, 0]], 0))
})

t.test('subscribes, asks and dispatches to custom partitions (odd and even)', async (t) => {
  const { out, d, state } = setup({ hash: (e) => (e % 2 === 0 ? 1 : 0) })
  d.subscribe('odd', { partition: 0 })
  t.equal(d.ask(3, 'odd'), 3)
  t.strictSame(d.dispatch([1], 1), [])
  t.strictSame(out.take(), [['odd', [1], 1]])
  t.equal(d.ask(3, 'odd'), 3)
  t.strictSame(d.snapshot(), state([['odd', 5, 0], [undefined, 0, 0]], 5))
  t.strictSame(d.dispatch([5, 7, 9, 11, 13, 15, 17], 7), [15, 17])
  t.strictSame(out.take(), [['odd', [5, 7, 9, 11, 13], 5]])
  t.strictSame(d.snapshot(), state([['odd', 0, 0], [undefined, 0, 0]], 0))
})

t.test('queues events for a partition without a consumer until it subscribes and asks', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('B', { partition: 1 })
  t.equal(d.ask(5, 'B'), 5)
  t.strictSame(d.dispatch([2, 4, 6, 8, 10], 5), [])
  t.strictSame(out.take(), [], 'all even: partition 0 has no consumer')
  t.strictSame(d.snapshot(), state([[undefined, 0, 5], ['B', 5, 0]], 0))
  t.strictSame(d.dispatch([12, 14], 2), [12, 14], 'nothing more was asked: leftovers, not queued')
  t.strictSame(d.snapshot(), state([[undefined, 0, 5], ['B', 5, 0]], 0))

  d.subscribe('A', { partition: 0 })
  t.strictSame(out.take(), [], 'queued events wait for the first ask')
  t.equal(d.ask(5, 'A'), 5, 'upstream is asked in full: the queued events were paid by B\'s demand')
  t.strictSame(out.take(), [['A', [2, 4, 6, 8, 10], 5]])
  t.strictSame(d.snapshot(), state([['A', 0, 0], ['B', 5, 0]], 5))
  t.strictSame(d.dispatch([1, 3], 2), [])
  t.strictSame(out.take(), [['B', [1, 3], 2]])
  t.strictSame(d.snapshot(), state([['A', 0, 0], ['B', 3, 0]], 3))
})

t.test('queues what exceeds a partition\'s demand, in order, and serves the queue first', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A', { partition: 0 })
  t.equal(d.ask(5, 'A'), 5)
  d.subscribe('B', { partition: 1 })
  t.equal(d.ask(5, 'B'), 5)
  t.strictSame(d.snapshot(), state([['A', 5, 0], ['B', 5, 0]], 10))

  // All events to the same partition: half of them are queued.
  t.strictSame(d.dispatch([2, 4], 2), [])
  t.strictSame(d.dispatch([6, 8, 10, 12, 14, 16, 18, 20], 8), [])
  t.strictSame(out.take(), [['A', [2, 4], 2], ['A', [6, 8, 10], 3]])
  t.strictSame(d.snapshot(), state([['A', 0, 5], ['B', 5, 0]], 0))

  // Queued + Σ demand + pending − waiting stays 0: queues are bounded by the demand outstanding.
  t.equal(d.ask(2, 'A'), 2)
  t.strictSame(out.take(), [['A', [12, 14], 2]])
  t.strictSame(d.snapshot(), state([['A', 0, 3], ['B', 5, 0]], 2))
  t.strictSame(d.dispatch([22, 1], 2), [], 'a new event for A joins the back of its queue')
  t.strictSame(out.take(), [['B', [1], 1]])
  t.strictSame(d.snapshot(), state([['A', 0, 4], ['B', 4, 0]], 0))
  t.equal(d.ask(5, 'A'), 5)
  t.strictSame(out.take(), [['A', [16, 18, 20, 22], 4]])
  t.strictSame(d.snapshot(), state([['A', 1, 0], ['B', 4, 0]], 5))
})

t.test('cancel keeps the queue for the partition\'s next subscription (GenStage discards it)', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A', { partition: 0 })
  d.subscribe('B', { partition: 1 })
  d.ask(2, 'A')
  d.ask(4, 'B')
  t.strictSame(d.dispatch([2, 4, 6, 8], 4), [])
  t.strictSame(out.take(), [['A', [2, 4], 2]])
  t.strictSame(d.snapshot(), state([['A', 0, 2], ['B', 4, 0]], 2))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([[undefined, 0, 2], ['B', 4, 0]], 2))

  // The restarted consumer subscribes again to partition 0 and continues where A stopped.
  t.equal(d.subscribe('A2', { partition: 0 }), 0)
  t.equal(d.ask(10, 'A2'), 10)
  t.strictSame(out.take(), [['A2', [6, 8], 2]])
  t.strictSame(d.snapshot(), state([['A2', 8, 0], ['B', 4, 0]], 12))
})

t.test('cancel with demand moves it to pending', async (t) => {
  const { d, state } = setup()
  d.subscribe('A', { partition: 0 })
  d.ask(6, 'A')
  t.strictSame(d.dispatch([2, 4], 2), [])
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([[undefined, 0, 0], [undefined, 0, 0]], 4, 4))
  d.subscribe('B', { partition: 1 })
  t.equal(d.ask(3, 'B'), 0, 'the 4 still coming cover it')
  t.equal(d.ask(3, 'B'), 2)
  t.strictSame(d.snapshot(), state([[undefined, 0, 0], ['B', 6, 0]], 6, 0))
})

t.test('info waits for the events queued before it', async (t) => {
  const { out, d, state } = setup()
  d.info('no queues')
  t.strictSame(out.infos, ['no queues'], 'emitted at once')

  d.subscribe('A', { partition: 0 })
  d.subscribe('B', { partition: 1 })
  d.ask(3, 'B')
  t.strictSame(d.dispatch([2, 4, 1], 3), [])
  t.strictSame(d.snapshot(), state([['A', 0, 2], ['B', 2, 0]], 0))
  out.log = []
  d.info('hello')
  t.strictSame(out.log, [], 'partition 0 holds events dispatched before it')
  t.strictSame(d.snapshot(), state([['A', 0, 2], ['B', 2, 0]], 0, 0, 1))

  d.ask(1, 'A')
  t.strictSame(out.log, [['A', [2]]], 'one of the two events before it: not yet')
  d.ask(5, 'A')
  t.strictSame(out.log, [['A', [2]], ['A', [4]], 'hello'], 'after the last event queued before it')
  t.strictSame(d.snapshot(), state([['A', 4, 0], ['B', 2, 0]], 6, 0, 0))
})

t.test('info waits for every partition with a queue, and infos keep their order', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A', { partition: 0 })
  d.subscribe('B', { partition: 1 })
  t.equal(d.ask(4, 'A'), 4)
  t.strictSame(d.dispatch([1, 3, 2, 5], 4), [], 'all but 2 go to partition 1, which has no demand')
  t.strictSame(out.take(), [['A', [2], 1]])
  d.info('first')
  t.strictSame(d.snapshot(), state([['A', 3, 0], ['B', 0, 3]], 0, 0, 1))
  t.equal(d.ask(3, 'A'), 3)
  t.strictSame(d.dispatch([4, 6, 7], 3), [])
  out.log = []
  d.info('second')
  t.strictSame(d.snapshot(), state([['A', 4, 0], ['B', 0, 4]], 0, 0, 2))
  d.ask(3, 'B')
  t.strictSame(out.log, [['B', [1, 3, 5]], 'first'])
  d.ask(3, 'B')
  t.strictSame(out.log, [['B', [1, 3, 5]], 'first', ['B', [7]], 'second'])
  t.strictSame(d.snapshot(), state([['A', 4, 0], ['B', 2, 0]], 6, 0, 0))
})

t.test('info held by a queue whose consumer is gone waits for the next one', async (t) => {
  const { out, d } = setup()
  d.subscribe('A', { partition: 0 })
  d.ask(2, 'A')
  d.dispatch([1, 3], 2)
  d.info('later')
  t.strictSame(out.infos, [])
  d.subscribe('B', { partition: 1 })
  d.ask(2, 'B')
  t.strictSame(out.infos, ['later'])
})

t.test('a bad hash result throws before anything changes', async (t) => {
  const { out, d, state } = setup({ hash: (e) => (e === 99 ? 7 : e % 2) })
  d.subscribe('A', { partition: 0 })
  d.ask(5, 'A')
  t.throws(() => d.dispatch([2, 99], 2), {
    name: 'RangeError', message: 'the partition hash returned 7 for the event at index 1; partitions are 0 to 1',
  })
  t.strictSame(out.take(), [])
  t.strictSame(d.snapshot(), state([['A', 5, 0], [undefined, 0, 0]], 5))
  const fractional = setup({ hash: () => 0.5 })
  fractional.d.subscribe('A', { partition: 0 })
  fractional.d.ask(1, 'A')
  t.throws(() => fractional.d.dispatch([1], 1), RangeError)
})

t.test('options and subscribe options are checked', async (t) => {
  const out = new Recorder<string, number>()
  t.throws(() => new PartitionDispatcher(out, { partitions: 0, hash: () => 0 }),
    { name: 'RangeError', message: 'options.partitions must be a positive integer, got 0' })
  t.throws(() => new PartitionDispatcher(out, { partitions: 2 }),
    { name: 'TypeError', message: 'options must have exactly one of hash (event => partition) and key (event => key)' })
  t.throws(() => new PartitionDispatcher<string, number>(out, { partitions: 2, hash: () => 0, key: (e) => e }), TypeError)
  t.throws(() => new PartitionDispatcher(out, { partitions: 2, hash: 3 as unknown as () => number }),
    { name: 'TypeError', message: 'options.hash must be a function, got number' })
  t.throws(() => new PartitionDispatcher(out, { partitions: 2, key: 'user' as unknown as () => string }),
    { name: 'TypeError', message: 'options.key must be a function, got string' })

  const { d, state } = setup()
  t.throws(() => d.subscribe('A'),
    { name: 'TypeError', message: 'options.partition is required when subscribing to a partition dispatcher' })
  t.throws(() => d.subscribe('A', { partition: 2 }),
    { name: 'RangeError', message: 'options.partition must be an integer from 0 to 1, got 2' })
  t.throws(() => d.subscribe('A', { partition: -1 }), RangeError)
  d.subscribe('A', { partition: 0 })
  t.throws(() => d.subscribe('B', { partition: 0 }), { message: 'partition 0 is already taken by another subscription' })
  t.throws(() => d.subscribe('A', { partition: 1 }), { message: 'subscription is already subscribed to this dispatcher' })
  t.throws(() => d.ask(0, 'A'), RangeError)
  t.equal(d.ask(3, 'nobody'), 0)
  t.equal(d.cancel('nobody'), 0)
  t.strictSame(d.snapshot(), state([['A', 0, 0], [undefined, 0, 0]], 0))
})

t.test('key: same key, same partition; hashKey spreads keys', async (t) => {
  const out = new Recorder<string, { user: string, n: number }>()
  const d = new PartitionDispatcher<string, { user: string, n: number }>(out, { partitions: 4, key: (e) => e.user })
  for (let p = 0; p < 4; p++) {
    d.subscribe(`P${p}`, { partition: p })
    d.ask(100, `P${p}`)
  }
  const events = Array.from({ length: 40 }, (_, n) => ({ user: `user-${n % 5}`, n }))
  d.dispatch(events, events.length)
  const partitionOf = new Map<string, string>()
  for (const [subscription, batch] of out.take()) {
    for (const event of batch) {
      const seen = partitionOf.get(event.user)
      if (seen !== undefined && seen !== subscription) t.fail(`${event.user} in two partitions`)
      partitionOf.set(event.user, subscription)
      t.equal(subscription, `P${hashKey(event.user, 4)}`)
    }
    const ns = batch.map((e) => e.n)
    t.strictSame(ns, [...ns].sort((a, b) => a - b), `${subscription} in order`)
  }
  t.equal(partitionOf.size, 5)

  t.equal(hashKey(10, 4), 2, 'non-negative integers: modulo')
  for (const key of [-1, 1.5, 'x', '', 'ключ']) {
    const p = hashKey(key, 7)
    t.ok(Number.isInteger(p) && p >= 0 && p < 7, `${JSON.stringify(key)} → ${p}`)
    t.equal(hashKey(key, 7), p, 'stable')
  }
  const counts = [0, 0, 0, 0]
  for (let i = 0; i < 4000; i++) (counts[hashKey(`user-${i}`, 4)] as number)++
  t.ok(counts.every((c) => c > 800 && c < 1200), `even spread ${counts}`)
})


t.test('property: never more than asked, nothing lost or duplicated, per-key order, bounded queues', async (t) => {
  const PARTITIONS = 3
  for (let seed = 1; seed <= 200; seed++) {
    const random = prng(seed)
    const pick = (n: number) => Math.floor(random() * n)
    // Events are numbers; the key is the number modulo 5, hashed into 3 partitions.
    const hash = (e: number) => hashKey(`k${e % 5}`, PARTITIONS)
    const received = new Map<string, number[]>()
    const asked = new Map<string, number>()
    const partitionOf = new Map<string, number>()
    const delivered = new Set<number>()
    const lastPerKey = new Map<number, number>()
    const infosOut: unknown[] = []
    const d = new PartitionDispatcher<string, number>({
      send(subscription, events, count) {
        if (events.length !== count) throw new Error('count mismatch')
        const list = received.get(subscription)
        if (list === undefined) throw new Error(`sent to unknown subscription ${subscription}`)
        for (const e of events) {
          if (hash(e) !== partitionOf.get(subscription)) t.fail(`seed ${seed}: ${e} to the wrong partition`)
          if (delivered.has(e)) t.fail(`seed ${seed}: ${e} delivered twice`)
          delivered.add(e)
          const key = e % 5
          if ((lastPerKey.get(key) ?? -1) >= e) t.fail(`seed ${seed}: key ${key} out of order`)
          lastPerKey.set(key, e)
          list.push(e)
        }
      },
      demand() { throw new Error('the partition dispatcher never frees demand by itself') },
      info(message) { infosOut.push(message) },
    }, { partitions: PARTITIONS, hash })
    const live = new Map<number, string>() // partition → subscription
    let nextSubscription = 0
    let nextEvent = 0
    let upstream = 0
    let buffer: number[] = []
    let totalAsked = 0
    let totalUpstream = 0
    let infosIn = 0

    const produce = (events: number[]) => {
      const leftovers = d.dispatch(events, events.length)
      const k = events.length - leftovers.length
      for (let i = 0; i < leftovers.length; i++) if (leftovers[i] !== events[k + i]) t.fail(`seed ${seed}: leftovers not the tail`)
      buffer = buffer.concat(leftovers)
    }
    const onDemand = (demand: number) => {
      totalUpstream += demand
      const fromBuffer = buffer.splice(0, Math.min(demand, buffer.length))
      if (fromBuffer.length > 0) {
        const rest = buffer
        buffer = []
        produce(fromBuffer)
        if (buffer.length > 0) t.fail(`seed ${seed}: events taken against returned demand came back`)
        buffer = buffer.concat(rest)
      }
      upstream += demand - fromBuffer.length
    }

    for (let step = 0; step < 250; step++) {
      const op = pick(12)
      if (op <= 1) {
        const free = [0, 1, 2].filter((p) => !live.has(p))
        if (free.length > 0) {
          const p = free[pick(free.length)] as number
          const s = `S${nextSubscription++}`
          received.set(s, [])
          asked.set(s, 0)
          partitionOf.set(s, p)
          live.set(p, s)
          onDemand(d.subscribe(s, { partition: p }))
        }
      } else if (op <= 6) {
        const subscriptions = [...live.values()]
        if (subscriptions.length > 0) {
          const s = subscriptions[pick(subscriptions.length)] as string
          const count = 1 + pick(8)
          asked.set(s, (asked.get(s) as number) + count)
          totalAsked += count
          onDemand(d.ask(count, s))
        }
      } else if (op <= 9) {
        const n = op === 9 ? pick(4) : pick(upstream + 1)
        upstream = Math.max(0, upstream - n)
        const events = Array.from({ length: n }, () => nextEvent++)
        if (buffer.length > 0) buffer = buffer.concat(events)
        else produce(events)
      } else if (op === 10) {
        const partitions = [...live.keys()]
        if (partitions.length > 0) {
          const p = partitions[pick(partitions.length)] as number
          const s = live.get(p) as string
          live.delete(p)
          onDemand(d.cancel(s))
        }
      } else {
        infosIn++
        d.info(infosIn)
      }

      const snapshot = d.snapshot()
      let queued = 0
      let demand = 0
      for (const partition of snapshot.partitions) {
        queued += partition.queued
        demand += partition.demand
        if (partition.queued > 0 && partition.demand > 0) t.fail(`seed ${seed}: demand beside a queue`)
        if (partition.subscription !== undefined) {
          const s = partition.subscription
          if (partition.demand !== (asked.get(s) as number) - (received.get(s) as number[]).length) t.fail(`seed ${seed}: demand off`)
        }
      }
      for (const [s, events] of received) {
        if (events.length > (asked.get(s) as number)) t.fail(`seed ${seed}: ${s} got ${events.length} > asked ${asked.get(s)}`)
      }
      if (delivered.size + queued + buffer.length !== nextEvent) t.fail(`seed ${seed}: events lost or duplicated`)
      if (queued !== demand + snapshot.pending - snapshot.waiting) t.fail(`seed ${seed}: queued ≠ Σdemand + pending − waiting`)
      if (totalUpstream > totalAsked) t.fail(`seed ${seed}: asked upstream ${totalUpstream} > consumers asked ${totalAsked}`)
      if (infosOut.length + snapshot.infos !== infosIn) t.fail(`seed ${seed}: an info was lost`)
      if (infosOut.some((m, i) => m !== i + 1)) t.fail(`seed ${seed}: infos out of order`)
    }
  }
  t.pass('200 interleavings of 250 calls each')
})
