/**
 * The two ways a subscription links two stages.
 *
 * - Across threads: a MessagePort per subscription, batches encoded by a
 *   {@link BatchCodec} and transferred; asks are tiny messages the other way.
 * - Within a thread: direct calls, queued on the thread's {@link Scheduler}
 *   so they run in order and never inside the caller. No encoding: the
 *   consumer receives the producer's event objects themselves.
 *
 * Either way the stage sees a {@link Downstream} or an {@link Upstream} and
 * the same demand semantics.
 * @internal
 */
import type { MessagePort } from 'node:worker_threads'
import { InvalidArgumentError, ProtocolError, describeThrown } from '../errors.js'
import type { DataMessage } from '../protocol.js'
import type { BatchCodec } from './codec/codec.js'
import { ConsumerDemand } from './consumer-demand.js'
import type { ConsumerDemandOptions } from './consumer-demand.js'
import type { StageCounters } from './counters.js'
import type { Envelope } from './envelope.js'
import type { Scheduler } from './scheduler.js'
import type { CancelMode, Downstream, Stage, Upstream } from './stage.js'

/** Subscription options a consumer gives, as the links carry them. */
export interface LinkOptions extends ConsumerDemandOptions {
  cancel: CancelMode
}

// ── across threads ─────────────────────────────────────────────────────────

/** The producer's end of a cross-thread subscription. */
export class PortDownstream implements Downstream {
  readonly consumer: string
  readonly #port: MessagePort
  readonly #codec: BatchCodec
  readonly #peer: StageCounters

  /**
   * @param peer the consumer's counters: `received` is added to here, so a crash on
   *   the other side still accounts for what was in flight.
   */
  constructor (consumer: string, port: MessagePort, codec: BatchCodec, peer: StageCounters, producer: Stage) {
    this.consumer = consumer
    this.#port = port
    this.#codec = codec
    this.#peer = peer
    port.on('message', (message: DataMessage) => {
      try {
        switch (message.t) {
          case 'ask': producer.ask(this, message.n); break
          case 'events': throw new ProtocolError(`producer "${producer.id}" received events on its subscription from "${consumer}"`)
          default: throw new ProtocolError(`unknown data message ${JSON.stringify(message)}`)
        }
      } catch (err) {
        producer.fail(err)
      }
    })
  }

  send (events: readonly Envelope[], count: number): void {
    let encoded
    try {
      encoded = this.#codec.encode(events, count)
    } catch (err) {
      throw new InvalidArgumentError(`an event sent to stage "${this.consumer}" cannot cross threads (payloads must be plain data: no symbols, functions or cycles): ${describeThrown(err)}`)
    }
    const { body, transfer } = encoded
    this.#peer.addReceived(count)
    this.#port.postMessage({ t: 'events', n: count, body } satisfies DataMessage, transfer)
  }

  close (): void {
    this.#port.close()
  }
}

/** The consumer's end of a cross-thread subscription. */
export class PortUpstream implements Upstream {
  readonly producer: string
  readonly cancel: CancelMode
  readonly demand: ConsumerDemand
  readonly #port: MessagePort

  constructor (producer: string, port: MessagePort, codec: BatchCodec, options: LinkOptions, consumer: Stage) {
    this.producer = producer
    this.cancel = options.cancel
    this.demand = new ConsumerDemand(options)
    this.#port = port
    port.on('message', (message: DataMessage) => {
      try {
        switch (message.t) {
          case 'events': consumer.receive(this, codec.decode(message.body), message.n); break
          case 'ask': throw new ProtocolError(`consumer "${consumer.id}" received an ask on its subscription to "${producer}"`)
          default: throw new ProtocolError(`unknown data message ${JSON.stringify(message)}`)
        }
      } catch (err) {
        consumer.fail(err)
      }
    })
  }

  ask (count: number): void {
    this.#port.postMessage({ t: 'ask', n: count } satisfies DataMessage)
  }

  close (): void {
    this.#port.close()
  }
}

// ── within a thread ────────────────────────────────────────────────────────

/** Both ends of an in-thread subscription: direct calls through the scheduler. */
export class LocalLink implements Downstream, Upstream {
  readonly consumer: string
  readonly producer: string
  readonly cancel: CancelMode
  readonly demand: ConsumerDemand
  readonly #from: Stage
  readonly #to: Stage
  readonly #scheduler: Scheduler

  constructor (from: Stage, to: Stage, options: LinkOptions, scheduler: Scheduler) {
    this.producer = from.id
    this.consumer = to.id
    this.cancel = options.cancel
    this.demand = new ConsumerDemand(options)
    this.#from = from
    this.#to = to
    this.#scheduler = scheduler
  }

  send (events: readonly Envelope[], count: number): void {
    this.#to.counters.addReceived(count)
    // The dispatcher may share `events` between subscriptions; a consumer owns its array.
    this.#scheduler.enqueue(deliver, this, events as Envelope[], count)
  }

  ask (count: number): void {
    this.#scheduler.enqueue(askFrom, this, count, undefined)
  }

  /** @internal used by the scheduled calls */
  get from (): Stage { return this.#from }
  /** @internal */
  get to (): Stage { return this.#to }
}

function deliver (this: LocalLink, events: Envelope[], count: number): void {
  this.to.receive(this, events, count)
}

function askFrom (this: LocalLink, count: number): void {
  this.from.ask(this, count)
}
