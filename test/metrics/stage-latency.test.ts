// Push → stage latency as a stage records it: every event of a small batch; for a large one, 16
// samples (the first event of each of 16 runs) weighted by their run's length, so counts stay exact.
import t from 'tap'
import type { Envelope } from '../../lib/stage/envelope.js'
import { now } from '../../lib/stage/envelope.js'
import { recordLatency } from '../../lib/stage/stage.js'

function batch (count: number, ageMs: (i: number) => number): Envelope[] {
  const t0 = now()
  return Array.from({ length: count }, (_, i) => ({ id: i, ts: t0 - ageMs(i), payload: null }))
}

t.test('a small batch: every event, weight 1', async (t) => {
  const calls: Array<[number, number]> = []
  recordLatency({ record: (ms, count) => calls.push([ms, count]) }, batch(10, (i) => 100 - i), 10)
  t.equal(calls.length, 10)
  t.ok(calls.every(([, count]) => count === 1))
  t.ok(calls.every(([ms], i) => ms >= 100 - i && ms < 100 - i + 50), 'each event\'s own age')
})

t.test('a large batch: 16 weighted samples that add up to the batch, each its run\'s first event', async (t) => {
  for (const size of [17, 100, 500, 1000, 4099]) {
    const calls: Array<[number, number]> = []
    const events = batch(size, (i) => size - i)     // the older the earlier
    recordLatency({ record: (ms, count) => calls.push([ms, count]) }, events, size)
    t.equal(calls.length, 16, `${size}: 16 samples`)
    t.equal(calls.reduce((sum, [, count]) => sum + count, 0), size, `${size}: weights add up to the batch`)
    let start = 0
    for (const [ms, count] of calls) {
      t.ok(ms >= size - start && ms < size - start + 50, `${size}: the sample of run at ${start} is that event's age`)
      start += count
    }
  }
})

t.test('only the first `count` events of the array are recorded', async (t) => {
  let total = 0
  recordLatency({ record: (_ms, count) => { total += count } }, batch(50, () => 1), 20)
  t.equal(total, 20)
})
