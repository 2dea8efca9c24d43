// Benchmark consumer: counts (the runtime's own counters are what the benchmark reads).
import { defineConsumer } from '../../stage/behaviour.js'

export default defineConsumer<{ count: number }>({
  init: () => ({ count: 0 }),
  handleEvents (events, _from, state) {
    state.count += events.length
    return { state }
  },
})
