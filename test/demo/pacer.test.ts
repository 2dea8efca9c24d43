// The pacer on its own: what it asks to wait for, without measuring time.
import t from 'tap'
import { Pacer, YIELD_EVERY } from '../../lib/demo/pacer.js'

t.test('max: never sleeps, yields a turn of the event loop every YIELD_EVERY events', async (t) => {
  const pacer = new Pacer('max')
  let waits = 0
  for (let i = 0; i < YIELD_EVERY * 3; i++) {
    const wait = pacer.due(i * 1_000_000)   // a million ms apart: no sleep at max
    if (wait !== null) {
      waits++
      await wait
    }
  }
  t.equal(waits, 3, 'one yield per YIELD_EVERY events')
})

t.test('paced: the first event goes at once, a later one waits, an earlier one does not', async (t) => {
  const controller = new AbortController()
  const pacer = new Pacer(1, controller.signal)
  t.equal(pacer.due(10_000), null, 'the first event is due at once')
  const wait = pacer.due(10_000 + 60_000)
  t.type(wait, Promise, 'an event 60 s later at speed 1 waits')
  t.equal(pacer.due(9_000), null, 'an event recorded earlier than the first goes at once')
  controller.abort()
  await wait   // ends at once on abort (the test would time out otherwise)
  t.equal(pacer.due(10_000 + 60_000), null, 'once aborted, nothing waits')
})

t.test('speed scales the schedule; reset starts a new one', async (t) => {
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const fast = new Pacer(1_000_000, controller.signal)
  t.equal(fast.due(0), null)
  t.equal(fast.due(100), null, '100 ms of recording at 1e6x is due at once')
  const slow = new Pacer(0.001, controller.signal)
  t.equal(slow.due(0), null)
  t.type(slow.due(1), Promise, '1 ms of recording at 0.001x waits a second')
  slow.reset()
  t.equal(slow.due(50_000), null, 'after reset the next event is due at once, whatever its time')
})
