// Benchmark producer-consumer: adds a field to every event it receives.
import { defineProducerConsumer } from '../../stage/behaviour.js'

export default defineProducerConsumer<null>({
  init: () => null,
  handleEvents (events, _from, state) {
    for (let i = 0; i < events.length; i++) (events[i]?.payload as { tag?: number }).tag = 1
    return { events, state }
  },
})
