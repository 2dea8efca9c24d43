// The demand dispatcher driven by hand, asserting its whole state after each call, as GenStage's
// own test/gen_stage/demand_dispatcher_test.exs does; the numbers are GenStage's.
import t from 'tap'
import { DemandDispatcher } from '../../../lib/stage/dispatcher/demand.js'
import { NO_EVENTS, type Outbox } from '../../../lib/stage/dispatcher/dispatcher.js'
import { Recorder } from './recorder.js'
import { prng } from '../../helpers.js'


function setup(options: ConstructorParameters<typeof DemandDispatcher>[1] = {}) {
  const out = new Recorder<string, string>()
  const d = new DemandDispatcher<string, string>(out, options)
  const state = (demands: [string, number][], pending = 0, spread = options.spread ?? false) => ({
    kind: 'demand', demands: demands.map(([subscription, demand]) => ({ subscription, demand })), pending, spread,
  })
  return { out, d, state }
}

t.test('subscribes and cancels', async (t) => {
  const { d, state } = setup()
  t.equal(d.subscribe('A'), 0)
  t.strictSame(d.snapshot(), state([['A', 0]]))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([]))
})

t.test('subscribes, asks and cancels: cancelled demand becomes pending', async (t) => {
  const { d, state } = setup()
  t.equal(d.subscribe('A'), 0)
  t.equal(d.ask(10, 'A'), 10)
  t.strictSame(d.snapshot(), state([['A', 10]]))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([], 10), 'the 10 events A asked for are still coming')

  t.equal(d.subscribe('A'), 0)
  t.strictSame(d.snapshot(), state([['A', 0]], 10))
  t.equal(d.ask(5, 'A'), 0, 'covered by pending')
  t.strictSame(d.snapshot(), state([['A', 5]], 5))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([], 10))
})

t.test('the worked example in demand.ts', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A')
  d.subscribe('B')
  t.equal(d.ask(10, 'A'), 10)
  t.strictSame(d.dispatch(['1', '2', '3', '4', '5', '6', '7'], 7), [])
  t.strictSame(out.take(), [['A', ['1', '2', '3', '4', '5', '6', '7'], 7]])
  t.strictSame(d.snapshot(), state([['A', 3], ['B', 0]]))
  t.equal(d.cancel('A'), 0)
  t.strictSame(d.snapshot(), state([['B', 0]], 3))
  t.equal(d.ask(5, 'B'), 2)
  t.strictSame(d.snapshot(), state([['B', 5]], 0))
})

t.test('subscribes, asks and dispatches', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A')
  t.equal(d.ask(3, 'A'), 3)
  t.strictSame(d.snapshot(), state([['A', 3]]))

  t.equal(d.dispatch(['a'], 1), NO_EVENTS, 'no leftovers: the shared empty array')
  t.strictSame(d.snapshot(), state([['A', 2]]))
  t.strictSame(out.take(), [['A', ['a'], 1]])

  t.equal(d.ask(3, 'A'), 3)
  t.strictSame(d.snapshot(), state([['A', 5]]))

  t.strictSame(d.dispatch(['b', 'c', 'd', 'e', 'f', 'g', 'h'], 7), ['g', 'h'])
  t.strictSame(d.snapshot(), state([['A', 0]]))
  t.strictSame(out.take(), [['A', ['b', 'c', 'd', 'e', 'f'], 5]])

  t.strictSame(d.dispatch(['i', 'j'], 2), ['i', 'j'])
  t.strictSame(d.snapshot(), state([['A', 0]]))
  t.strictSame(out.take(), [], 'nothing sent without demand')
})

t.test('keeps subscriptions sorted by demand, ties in the order they got there', async (t) => {
  const { d, state } = setup()
  d.subscribe('A')
  d.subscribe('B')
  d.subscribe('C')
  t.equal(d.ask(4, 'A'), 4)
  t.equal(d.ask(2, 'B'), 2)
  t.equal(d.ask(3, 'C'), 3)
  t.strictSame(d.snapshot(), state([['A', 4], ['C', 3], ['B', 2]]))
  t.equal(d.ask(2, 'C'), 2)
  t.strictSame(d.snapshot(), state([['C', 5], ['A', 4], ['B', 2]]))
  t.equal(d.ask(4, 'B'), 4)
  t.strictSame(d.snapshot(), state([['B', 6], ['C', 5], ['A', 4]]))
})

t.test('dispatches to multiple consumers, most demand first', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A')
  d.subscribe('B')
  t.equal(d.ask(3, 'A'), 3)
  t.equal(d.ask(2, 'B'), 2)
  t.strictSame(d.snapshot(), state([['A', 3], ['B', 2]]))

  // One batch fits all.
  t.strictSame(d.dispatch(['a', 'b', 'c', 'd', 'e'], 5), [])
  t.strictSame(out.take(), [['A', ['a', 'b', 'c'], 3], ['B', ['d', 'e'], 2]])
  t.strictSame(d.snapshot(), state([['A', 0], ['B', 0]]))

  t.strictSame(d.dispatch(['a', 'b', 'c'], 3), ['a', 'b', 'c'])
  t.strictSame(d.snapshot(), state([['A', 0], ['B', 0]]))
  t.strictSame(out.take(), [])

  // Two batches, the served one goes behind its equals.
  t.equal(d.ask(3, 'A'), 3)
  t.equal(d.ask(3, 'B'), 3)
  t.strictSame(d.snapshot(), state([['A', 3], ['B', 3]]))
  t.strictSame(d.dispatch(['a', 'b'], 2), [])
  t.strictSame(out.take(), [['A', ['a', 'b'], 2]])
  t.strictSame(d.snapshot(), state([['B', 3], ['A', 1]]))
  t.strictSame(d.dispatch(['c', 'd'], 2), [])
  t.strictSame(out.take(), [['B', ['c', 'd'], 2]])
  t.strictSame(d.snapshot(), state([['A', 1], ['B', 1]]))

  // Eliminate the left-over.
  t.strictSame(d.dispatch(['e', 'f', 'g'], 3), ['g'])
  t.strictSame(out.take(), [['A', ['e'], 1], ['B', ['f'], 1]])
  t.strictSame(d.snapshot(), state([['A', 0], ['B', 0]]))
})

t.test('dispatch considers only the first `length` events and checks the length', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A')
  d.ask(10, 'A')
  t.strictSame(d.dispatch(['a', 'b', 'c', 'd'], 2), [])
  t.strictSame(out.take(), [['A', ['a', 'b'], 2]])
  t.strictSame(d.snapshot(), state([['A', 8]]))
  t.equal(d.dispatch(['a'], 0), NO_EVENTS)
  t.throws(() => d.dispatch(['a'], 2), RangeError)
  t.throws(() => d.dispatch(['a'], -1), RangeError)
  t.throws(() => d.dispatch(['a'], 0.5), RangeError)
  t.strictSame(d.snapshot(), state([['A', 8]]), 'unchanged by the rejected calls')
  t.ok(Object.isFrozen(NO_EVENTS))
})

t.test('passes the caller\'s array through when one subscription takes it all', async (t) => {
  const seen: (readonly string[])[] = []
  const d = new DemandDispatcher<string, string>({ send: (_s, events) => { seen.push(events) }, demand() {}, info() {} })
  d.subscribe('A')
  d.ask(5, 'A')
  const batch = ['a', 'b']
  d.dispatch(batch, 2)
  t.equal(seen[0], batch, 'no copy')
})

t.test('ask checks its count; unknown subscriptions are ignored; double subscribe throws', async (t) => {
  const { d, state } = setup()
  d.subscribe('A')
  t.throws(() => d.ask(0, 'A'), { name: 'RangeError', message: 'ask count must be a positive integer, got 0' })
  t.throws(() => d.ask(1.5, 'A'), RangeError)
  t.throws(() => d.ask(Number.NaN, 'A'), RangeError)
  t.equal(d.ask(5, 'nobody'), 0)
  t.equal(d.cancel('nobody'), 0)
  t.throws(() => d.subscribe('A'), { message: 'subscription is already subscribed to this dispatcher' })
  t.strictSame(d.snapshot(), state([['A', 0]]))
})

t.test('options are checked', async (t) => {
  const out = new Recorder<string, string>()
  t.throws(() => new DemandDispatcher(out, { spread: 'yes' as unknown as boolean }),
    { name: 'TypeError', message: 'options.spread must be a boolean, got string' })
  t.throws(() => new DemandDispatcher(out, { shuffleOnFirstDispatch: 1 as unknown as boolean }), TypeError)
  t.throws(() => new DemandDispatcher(out, { random: 4 as unknown as () => number }), TypeError)
})

t.test('info is emitted at once: the demand dispatcher holds no events', async (t) => {
  const { out, d, state } = setup()
  d.subscribe('A')
  d.ask(3, 'A')
  d.info('hello')
  t.strictSame(out.infos, ['hello'])
  t.strictSame(d.snapshot(), state([['A', 3]]))
})

t.test('shuffleOnFirstDispatch shuffles ties once, before the first dispatch', async (t) => {
  // random() → 0 swaps the two tied entries (Fisher-Yates picks index 0 for the last slot).
  const swapped = setup({ shuffleOnFirstDispatch: true, random: () => 0 })
  swapped.d.subscribe('A')
  swapped.d.subscribe('B')
  swapped.d.ask(3, 'A')
  swapped.d.ask(3, 'B')
  t.strictSame(swapped.d.snapshot(), swapped.state([['A', 3], ['B', 3]]))
  t.strictSame(swapped.d.dispatch(['a', 'b', 'c', 'd', 'e'], 5), [])
  t.strictSame(swapped.out.take(), [['B', ['a', 'b', 'c'], 3], ['A', ['d', 'e'], 2]])
  t.strictSame(swapped.d.snapshot(), swapped.state([['A', 1], ['B', 0]]))
  swapped.d.ask(2, 'B')
  swapped.d.ask(1, 'A')
  t.strictSame(swapped.d.snapshot(), swapped.state([['B', 2], ['A', 2]]))
  swapped.d.dispatch(['f'], 1)
  t.strictSame(swapped.out.take(), [['B', ['f'], 1]], 'only the first dispatch shuffles')

  // random() → 0.99 keeps the order; entries of different demand are never reordered.
  const kept = setup({ shuffleOnFirstDispatch: true, random: () => 0.99 })
  kept.d.subscribe('A')
  kept.d.subscribe('B')
  kept.d.subscribe('C')
  kept.d.ask(3, 'A')
  kept.d.ask(3, 'B')
  kept.d.ask(1, 'C')
  kept.d.dispatch(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 7)
  t.strictSame(kept.out.take(), [['A', ['a', 'b', 'c'], 3], ['B', ['d', 'e', 'f'], 3], ['C', ['g'], 1]])
})

t.test('spread: a small batch reaches every idle consumer (broadway#269)', async (t) => {
  const names = ['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8', 'P9']
  const events = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']

  // GenStage's greedy rule: ten processors with demand 10, ten events, all to the first.
  const greedy = setup()
  for (const name of names) greedy.d.subscribe(name)
  for (const name of names) greedy.d.ask(10, name)
  greedy.d.dispatch(events, 10)
  t.strictSame(greedy.out.take(), [['P0', events, 10]])

  const spread = setup({ spread: true })
  for (const name of names) spread.d.subscribe(name)
  for (const name of names) t.equal(spread.d.ask(10, name), 10)
  t.strictSame(spread.d.dispatch(events, 10), [])
  t.strictSame(spread.out.take(), names.map((name, i) => [name, [events[i]], 1]))
  t.strictSame(spread.d.snapshot(), spread.state(names.map((name) => [name, 9])))
})

t.test('spread: shares follow demand, the rest goes to those with more', async (t) => {
  const { out, d, state } = setup({ spread: true })
  d.subscribe('A')
  d.subscribe('B')
  d.subscribe('C')
  d.ask(5, 'A')
  d.ask(5, 'B')
  d.ask(5, 'C')
  // floor shares from the least demand up: C 10/3 → 3, B 7/2 → 3, A 4.
  t.strictSame(d.dispatch(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 10), [])
  t.strictSame(out.take(), [['A', ['0', '1', '2', '3'], 4], ['B', ['4', '5', '6'], 3], ['C', ['7', '8', '9'], 3]])
  t.strictSame(d.snapshot(), state([['B', 2], ['C', 2], ['A', 1]]))

  // A small demand takes what it can; the rest flows to the larger ones.
  const small = setup({ spread: true })
  small.d.subscribe('big')
  small.d.subscribe('tiny')
  small.d.ask(1000, 'big')
  small.d.ask(1, 'tiny')
  small.d.dispatch(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 10)
  t.strictSame(small.out.take(), [['big', ['0', '1', '2', '3', '4', '5', '6', '7', '8'], 9], ['tiny', ['9'], 1]])
  t.strictSame(small.d.snapshot(), small.state([['big', 991], ['tiny', 0]]))

  // Fewer events than consumers: the ones with most demand get them.
  const few = setup({ spread: true })
  few.d.subscribe('A')
  few.d.subscribe('B')
  few.d.subscribe('C')
  few.d.ask(3, 'A')
  few.d.ask(3, 'B')
  few.d.ask(3, 'C')
  few.d.dispatch(['x', 'y'], 2)
  t.strictSame(few.out.take(), [['A', ['x'], 1], ['B', ['y'], 1]])
  t.strictSame(few.d.snapshot(), few.state([['C', 3], ['A', 2], ['B', 2]]))

  // More events than all demand: leftovers, as without spread.
  const over = setup({ spread: true })
  over.d.subscribe('A')
  over.d.subscribe('B')
  over.d.ask(2, 'A')
  over.d.ask(1, 'B')
  t.strictSame(over.d.dispatch(['0', '1', '2', '3', '4'], 5), ['3', '4'])
  t.strictSame(over.out.take(), [['A', ['0', '1'], 2], ['B', ['2'], 1]])
  t.strictSame(over.d.snapshot(), over.state([['A', 0], ['B', 0]]))
})


t.test('property: never more than asked, nothing lost or duplicated, per-subscription order', async (t) => {
  for (const spread of [false, true]) {
    for (let seed = 1; seed <= 150; seed++) {
      const random = prng(seed)
      const pick = (n: number) => Math.floor(random() * n)
      const received = new Map<number, number[]>() // subscription → events, in arrival order
      const asked = new Map<number, number>()
      const outbox: Outbox<number, number> = {
        send(subscription, events, count) {
          const list = received.get(subscription)
          if (list === undefined) throw new Error(`sent to unknown subscription ${subscription}`)
          if (events.length !== count) throw new Error('count mismatch')
          list.push(...events)
        },
        demand() { throw new Error('the demand dispatcher never frees demand by itself') },
        info() {},
      }
      const d = new DemandDispatcher<number, number>(outbox, { spread, shuffleOnFirstDispatch: true, random })
      const live: number[] = []
      let nextSubscription = 0
      let nextEvent = 0
      let upstream = 0 // demand returned to the producer, not yet produced
      let buffer: number[] = [] // the producer's buffer of leftovers
      let totalAsked = 0
      let totalUpstream = 0

      const produce = (events: number[]) => {
        const leftovers = d.dispatch(events, events.length)
        const tail = events.slice(events.length - leftovers.length)
        if (leftovers.some((e, i) => e !== tail[i])) t.fail(`seed ${seed}: leftovers are not the tail of the batch`)
        buffer = buffer.concat(leftovers)
      }
      const onDemand = (demand: number) => {
        totalUpstream += demand
        const fromBuffer = buffer.splice(0, Math.min(demand, buffer.length))
        if (fromBuffer.length > 0) {
          const before = buffer
          buffer = []
          produce(fromBuffer)
          buffer = buffer.concat(before)
        }
        upstream += demand - fromBuffer.length
      }

      for (let step = 0; step < 200; step++) {
        const op = pick(10)
        if (op === 0 || live.length === 0) {
          const s = nextSubscription++
          received.set(s, [])
          asked.set(s, 0)
          live.push(s)
          onDemand(d.subscribe(s))
        } else if (op <= 4) {
          const s = live[pick(live.length)] as number
          const count = 1 + pick(8)
          asked.set(s, (asked.get(s) as number) + count)
          totalAsked += count
          onDemand(d.ask(count, s))
        } else if (op <= 7) {
          // The producer emits part of what was asked, or (as push-driven producers do) a little more.
          const n = op === 7 ? pick(5) : pick(upstream + 1)
          upstream = Math.max(0, upstream - n)
          const events = Array.from({ length: n }, () => nextEvent++)
          if (buffer.length > 0) buffer = buffer.concat(events)
          else produce(events)
        } else if (op === 8) {
          const i = pick(live.length)
          onDemand(d.cancel(live[i] as number))
          live.splice(i, 1)
        } else {
          d.info(step)
        }

        // Invariants after every call.
        const seen = new Set<number>(buffer)
        for (const [s, events] of received) {
          if (events.length > (asked.get(s) as number)) t.fail(`seed ${seed}: ${s} got ${events.length} > asked ${asked.get(s)}`)
          for (let i = 1; i < events.length; i++) {
            if ((events[i] as number) <= (events[i - 1] as number)) t.fail(`seed ${seed}: ${s} out of order`)
          }
          for (const e of events) {
            if (seen.has(e)) t.fail(`seed ${seed}: event ${e} duplicated`)
            seen.add(e)
          }
        }
        if (seen.size !== nextEvent) t.fail(`seed ${seed}: ${nextEvent - seen.size} events lost`)
        if (totalUpstream > totalAsked) t.fail(`seed ${seed}: asked upstream ${totalUpstream} > consumers asked ${totalAsked}`)
        const snapshot = d.snapshot()
        for (let i = 1; i < snapshot.demands.length; i++) {
          if ((snapshot.demands[i] as { demand: number }).demand > (snapshot.demands[i - 1] as { demand: number }).demand) {
            t.fail(`seed ${seed}: demands not sorted`)
          }
        }
        for (const { subscription, demand } of snapshot.demands) {
          const list = received.get(subscription) as number[]
          if (demand !== (asked.get(subscription) as number) - list.length) t.fail(`seed ${seed}: demand of ${subscription} is off`)
        }
      }
    }
  }
  t.pass('300 interleavings of 200 calls each')
})
