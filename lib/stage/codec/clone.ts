// Baseline codec: the array itself is the body and postMessage's structured clone copies it.
// Measured (ANCHORS.md): V8 deserialisation, ~577 ns an event, caps a hop at ~1.9 M events/s.
import type { Envelope } from '../envelope.js'
import type { PushBatch } from '../push-batch.js'
import { ProtocolError } from '../../errors.js'
import { checkCount, type BatchCodec, type EncodedBatch } from './codec.js'

const NO_TRANSFER: ArrayBuffer[] = []

/**
 * Structured clone: no encoding in JS at all, every value type structured clone supports (Map,
 * Date, typed arrays, cycles), nothing transferred. Stateless; the slowest to decode.
 */
export class CloneCodec implements BatchCodec {
  readonly name = 'clone' as const

  /** @throws InvalidArgumentError (ERR_INVALID_ARGUMENT) on a bad `count`. */
  encode (events: readonly Envelope[], count: number): EncodedBatch {
    checkCount(count, events.length)
    // postMessage clones synchronously, so the caller's array may be reused as soon as it returns.
    return { body: count === events.length ? events : events.slice(0, count), transfer: NO_TRANSFER }
  }

  encodePushed (batch: PushBatch): EncodedBatch {
    return this.encode(batch.envelopes(), batch.length)
  }

  /** @throws ProtocolError (ERR_PROTOCOL) when the body is not an array. */
  decode (body: unknown): Envelope[] {
    if (!Array.isArray(body)) throw new ProtocolError(`clone codec: expected an array body, got ${typeof body}`)
    return body as Envelope[]
  }
}
