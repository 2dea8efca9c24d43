// The outbox the dispatcher tests drive dispatchers with: it records what a
// dispatcher emits, so a test can assert every send, freed demand and info.
import type { Outbox } from '../../../lib/stage/dispatcher/dispatcher.js'

/** One send: the subscription, a copy of its events, and the count. */
export type Sent<S, E> = [subscription: S, events: E[], count: number]

/** Records what the dispatcher emits; `take` returns and forgets the sends. */
export class Recorder<S, E> implements Outbox<S, E> {
  sent: Sent<S, E>[] = []
  demands: number[] = []
  infos: unknown[] = []
  /** Sends and infos interleaved, to check that an info comes after the events before it. */
  log: unknown[] = []
  send (subscription: S, events: readonly E[], count: number): void {
    if (events.length !== count) throw new Error(`send: ${events.length} events with count ${count}`)
    this.sent.push([subscription, [...events], count])
    this.log.push([subscription, [...events]])
  }

  demand (count: number): void {
    this.demands.push(count)
  }

  info (message: unknown): void {
    this.infos.push(message)
    this.log.push(message)
  }

  take (): Sent<S, E>[] {
    const sent = this.sent
    this.sent = []
    return sent
  }
}
