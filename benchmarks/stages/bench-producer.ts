// Benchmark producer: makes 100-byte events on demand, as fast as asked.
import { defineProducer } from '../../lib/stage/behaviour.js'
import type { Envelope } from '../../lib/stage/envelope.js'

const PAD = 'x'.repeat(100)

export default defineProducer<{ n: number }>({
  init: () => ({ n: 0 }),
  handleDemand (demand, state) {
    const events = new Array<Envelope>(demand)
    const ts = performance.timeOrigin + performance.now()
    let n = state.n
    for (let i = 0; i < demand; i++) events[i] = { id: ++n, ts, payload: { n, s: PAD } }
    state.n = n
    return { events, state }
  },
})
