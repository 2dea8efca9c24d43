/**
 * `runtime.push()`: the host app's way into a producer stage.
 *
 * A push stamps the event (id, push time) and appends it to a batch; the
 * batch is flushed to the producer's thread once per tick (setImmediate),
 * over a port of its own, so the caller never waits on another thread. Like
 * a Node stream's `write()`, `push` returns `false` once the events pushed
 * and not yet taken by consumers pass the producer's high-water mark; the
 * runtime emits `drain` when they fall back under half of it. The figures
 * come from the producer's shared counters, so checking costs no message.
 *
 * While the producer is down (between a crash and its restart) pushes wait
 * here, up to the producer's bufferSize; past it the oldest are dropped
 * (or the newest, with bufferKeep 'first') and counted as `no_producer`.
 * @internal
 */
import { MessageChannel } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import type { ActorRef } from '../actor/ref.js'
import { InvalidArgumentError } from '../errors.js'
import type { IngestMessage } from '../protocol.js'
import type { StageSpec } from '../supervisor/spec.js'
import type { BatchCodec } from './codec/codec.js'
import { createCodec } from './codec/create.js'
import { SLOT, StageCounters } from './counters.js'
import { now } from './envelope.js'
import type { Envelope } from './envelope.js'
import type { IdSource } from './ids.js'
import { PushBatch } from './push-batch.js'

/** Routing metadata a push may carry. */
export interface PushMeta {
  topic?: string
  event?: string
}

/** Reports from a push channel to the runtime. */
export interface PushEvents {
  drain (stage: string): void
  dropped (stage: string, count: number, reason: 'no_producer' | 'unencodable'): void
}


/** A payload that cannot be data at all is refused at once; deeper problems are found at the flush. */
function checkPayload (stage: string, payload: unknown): void {
  const type = typeof payload
  if (type === 'undefined' || type === 'function' || type === 'symbol') {
    throw new InvalidArgumentError(`push to "${stage}": a payload must be plain data, got ${type}`)
  }
}

/** The push queue of one producer stage. @internal */
export class PushChannel {
  readonly stage: string
  readonly #spec: StageSpec
  readonly #ids: IdSource
  readonly #codecName: string
  readonly #events: PushEvents
  /** Pushed and not yet flushed: columns, no envelope objects (lib/stage/push-batch.ts). */
  readonly #batch = new PushBatch()
  #port: MessagePort | undefined
  #codec: BatchCodec | undefined
  #actor: ActorRef | undefined
  #counters: StageCounters | undefined
  /** Events posted to the current producer instance. */
  #sent = 0
  #flushScheduled = false
  #waitingForDrain = false
  #drainTimer: NodeJS.Timeout | undefined
  readonly #lowWater: number

  constructor (spec: StageSpec, ids: IdSource, codec: string, events: PushEvents) {
    this.stage = spec.id
    this.#spec = spec
    this.#ids = ids
    this.#codecName = codec
    this.#events = events
    this.#lowWater = Math.floor(spec.highWaterMark / 2)
  }

  /** A (new) instance of the producer is running: give it a push port. */
  attach (actor: ActorRef): void {
    this.detach()
    const boot = actor.stage(this.stage)
    if (boot === undefined) return
    const { port1, port2 } = new MessageChannel()
    actor.control({ type: 'ingest', stage: this.stage, port: port2 }, [port2])
    this.#actor = actor
    // Our end must not keep the process alive on its own: the worker does while it runs.
    port1.unref()
    this.#port = port1
    this.#codec = createCodec(this.#codecName)
    this.#counters = new StageCounters(boot.counters)
    this.#sent = 0
    if (this.#batch.length > 0) this.#scheduleFlush()
  }

  /** The producer's thread is gone: pushes wait here until the next {@link attach}. */
  detach (): void {
    this.#port?.close()
    this.#port = undefined
    this.#actor = undefined
    this.#codec = undefined
    this.#counters = undefined
    this.#sent = 0
  }

  /** Stops timers and closes the port; later pushes are refused by the runtime. */
  close (): void {
    clearTimeout(this.#drainTimer)
    this.#waitingForDrain = false
    this.detach()
    this.#batch.clear()
  }

  /**
   * Appends one event; false once past the high-water mark.
   * @throws ERR_INVALID_ARGUMENT for a payload that is undefined, a function or a symbol.
   */
  push (payload: unknown, meta?: PushMeta): boolean {
    checkPayload(this.stage, payload)
    // Hot path: no allocation, a row of columns; measured in benchmarks/push.bench.ts.
    this.#batch.add(this.#ids.next(), now(), payload, meta?.topic, meta?.event)
    if (!this.#flushScheduled) this.#scheduleFlush()
    return this.#below()
  }

  /** Appends many events; false once past the high-water mark. */
  pushMany (payloads: readonly unknown[], meta?: PushMeta): boolean {
    if (!Array.isArray(payloads)) throw new InvalidArgumentError(`pushMany to "${this.stage}" takes an array of payloads, got ${typeof payloads}`)
    for (let i = 0; i < payloads.length; i++) checkPayload(this.stage, payloads[i])
    const topic = meta?.topic
    const event = meta?.event
    for (let i = 0; i < payloads.length; i++) this.#batch.add(this.#ids.next(), now(), payloads[i], topic, event)
    if (!this.#flushScheduled) this.#scheduleFlush()
    return this.#below()
  }

  /** Events pushed and not yet taken by a consumer: waiting here, in flight, or in the producer's buffer. */
  get pending (): number {
    const c = this.#counters
    if (c === undefined) return this.#batch.length
    return this.#batch.length + (this.#sent - (c.f[SLOT.handled] as number)) + (c.f[SLOT.buffered] as number)
  }

  #below (): boolean {
    if (this.pending < this.#spec.highWaterMark) return true
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true
      this.#pollDrain()
    }
    return false
  }

  /** Polls the shared counters (no message needed) until the backlog is under the low-water mark. */
  #pollDrain (): void {
    this.#drainTimer = setTimeout(() => {
      if (!this.#waitingForDrain) return
      if (this.pending <= this.#lowWater) {
        this.#waitingForDrain = false
        this.#events.drain(this.stage)
      } else {
        this.#pollDrain()
      }
    }, 1)
    this.#drainTimer.unref()
  }

  #scheduleFlush (): void {
    this.#flushScheduled = true
    setImmediate(this.#flushBound)
  }

  readonly #flushBound = (): void => { this.#flush() }

  #flush (): void {
    this.#flushScheduled = false
    const batch = this.#batch
    const count = batch.length
    if (count === 0) return
    const port = this.#port
    const codec = this.#codec
    if (port === undefined || codec === undefined) {
      this.#bound()
      return
    }
    try {
      const { body, transfer } = codec.encodePushed(batch)
      port.postMessage({ t: 'events', n: count, body } satisfies IngestMessage, transfer)
    } catch {
      this.#sendValid()
      return
    }
    batch.clear()
    this.#sent += count
    this.#counters?.addReceived(count)
  }

  /**
   * A batch the codec refused (a payload with a symbol, a cycle, a function...): find the events
   * that cannot be encoded with a throwaway codec, drop them (counted as `unencodable`), and keep
   * the rest for the next flush. The port's own codec may have learned half a batch before it
   * threw, so the port is replaced first: both ends start again from a fresh codec.
   */
  #sendValid (): void {
    const batch = this.#batch
    const events = batch.envelopes()
    batch.clear()
    const probe = createCodec(this.#codecName)
    const valid: Envelope[] = []
    for (const event of events) {
      try {
        // Encode, then clone what would be posted: the clone codec's failures happen in postMessage.
        structuredClone(probe.encode([event], 1).body)
        valid.push(event)
      } catch {
        // dropped below
      }
    }
    // Nothing singled out, yet the batch failed: drop it all rather than retry it for ever.
    if (valid.length === events.length) valid.length = 0
    const dropped = events.length - valid.length
    if (dropped > 0) this.#events.dropped(this.stage, dropped, 'unencodable')
    const actor = this.#actor
    if (actor !== undefined) this.attach(actor)
    for (const event of valid) batch.addEnvelope(event)
    if (batch.length > 0) this.#scheduleFlush()
  }

  /** While the producer is down, keep at most bufferSize events, by its bufferKeep. */
  #bound (): void {
    const batch = this.#batch
    const over = batch.length - this.#spec.bufferSize
    if (over <= 0) return
    if (this.#spec.bufferKeep === 'last') batch.keepLast(this.#spec.bufferSize)
    else batch.keepFirst(this.#spec.bufferSize)
    this.#events.dropped(this.stage, over, 'no_producer')
  }
}
