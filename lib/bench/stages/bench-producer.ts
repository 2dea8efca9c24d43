// Benchmark producer: makes 100-byte events on demand, as fast as asked, until told to stop
// (`runtime.call(id, 'stop')`), so that what it made can be checked against what arrived.
import { defineProducer } from '../../stage/behaviour.js'
import type { Envelope } from '../../stage/envelope.js'

const PAD = 'x'.repeat(100)

interface State { n: number, stopped: boolean }

export default defineProducer<State>({
  init: () => ({ n: 0, stopped: false }),
  handleDemand (demand, state) {
    if (state.stopped) return { state }
    const events = new Array<Envelope>(demand)
    const ts = performance.timeOrigin + performance.now()
    let n = state.n
    for (let i = 0; i < demand; i++) events[i] = { id: ++n, ts, payload: { n, s: PAD } }
    state.n = n
    return { events, state }
  },
  handleCall (request, state) {
    if (request !== 'stop') throw new Error(`bench-producer answers "stop", got ${JSON.stringify(request)}`)
    state.stopped = true
    return { reply: state.n, state }
  },
})
