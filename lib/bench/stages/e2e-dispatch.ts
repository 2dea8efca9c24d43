// The limited-concurrency stage of `stagewire bench e2e` (lib/bench/e2e.ts): one task per event,
// in the stage's thread, at most maxDemand at once, as Real-Time Phoenix's ConsumerSupervisor runs
// one process per event.
//
//   with sockets   run(event) returns the event shaped for the demo's clients, { id, ts, key, data }
//                  on topic feed:<key>, and the broadcaster downstream fans it out to its clients;
//   without        run(event) looks the topic up in an in-thread registry (as Elixir's Registry)
//                  and hands the event to each subscriber, which times it (push → receipt) and
//                  counts it; `runtime.call(id, 'take')` returns the count and the latency since
//                  the previous take.
import { defineConsumerSupervisor } from '../../stage/behaviour.js'
import type { Envelope } from '../../stage/envelope.js'
import { LatencyRecorder } from '../../metrics/latency.js'
import type { LatencySnapshot } from '../../metrics/latency.js'

/** The stage's args. */
export interface DispatchArgs {
  sockets: boolean
  /** Subscribers by topic (no sockets): how many in-process subscribers each topic has. */
  subscribers?: Record<string, number>
}

/** The reply to 'take'. */
export interface DispatchTake {
  /** Deliveries since the stage started. */
  delivered: number
  /** Push → receipt latency of the deliveries since the previous take. */
  latency: LatencySnapshot
}

const PREFIX = 'feed:'

/** An in-process subscriber: what a Registry entry's process would do with a message. */
class Subscriber {
  received = 0

  receive (event: Envelope, at: number): void {
    this.received++
    recorder?.record(at - event.ts)
  }
}

let recorder: LatencyRecorder | undefined
let delivered = 0
const registry = new Map<string, Subscriber[]>()
let sockets = true

const now = (): number => performance.timeOrigin + performance.now()

export default defineConsumerSupervisor<null, DispatchArgs>({
  init (args) {
    sockets = args.sockets
    if (!sockets) {
      recorder = new LatencyRecorder()
      for (const [topic, n] of Object.entries(args.subscribers ?? {})) {
        registry.set(topic, Array.from({ length: n }, () => new Subscriber()))
      }
    }
    return null
  },
  run (event) {
    const topic = event.topic as string
    if (sockets) {
      return { id: event.id, ts: event.ts, topic, event: 'event', payload: { id: event.id, ts: event.ts, key: topic.slice(PREFIX.length), data: event.payload } }
    }
    const subs = registry.get(topic)
    if (subs === undefined) return undefined
    const at = now()
    for (let i = 0; i < subs.length; i++) (subs[i] as Subscriber).receive(event, at)
    delivered += subs.length
    return undefined
  },
  handleCall (request, state) {
    if (request !== 'take') throw new Error(`e2e-dispatch answers "take", got ${JSON.stringify(request)}`)
    if (recorder === undefined) throw new Error('e2e-dispatch: "take" is for the run without sockets')
    const reply: DispatchTake = { delivered, latency: recorder.take() }
    return { reply, state }
  },
})
