// How batches of events cross between stage threads.
//
//   sender thread                                   receiver thread
//   ─────────────                                   ───────────────
//   codec.encode(events, count) → { body, transfer }
//   port.postMessage(body, transfer)           ─►   codec.decode(body) → Envelope[] (fresh objects)
//
// Contract (every codec):
// - one codec instance per port end: it encodes what that end sends and decodes what it receives.
//   Codecs may keep state per direction (msgpackr's sequential records, the shape codec's learned
//   shapes), so the receiver MUST decode every body it is sent, exactly once, in the order sent (a
//   MessagePort keeps that order). A body decoded out of order or by another codec is a
//   ProtocolError (ERR_PROTOCOL) where the codec can tell, never silently wrong data.
// - `decode` returns a new array of new plain objects that the receiver may keep and mutate; it
//   never shares memory with the body or with the sender's later batches.
// - `encode` reads `events[0 .. count)` and keeps no reference to them once it returns.
// - `transfer` lists the ArrayBuffers to pass in postMessage's transfer list; after the post the
//   sender's copies of them are detached, so a codec never puts a buffer it reuses there.
//
// Measured on the 2-core machine: see benchmarks/codec.bench.ts and benchmarks/RESULTS.md.
import type { Envelope } from '../envelope.js'
import type { PushBatch } from '../push-batch.js'
import { InvalidArgumentError } from '../../errors.js'

/** One encoded batch: post it as `port.postMessage(body, transfer)`. */
export interface EncodedBatch {
  /** The message body: whatever the matching `decode` accepts. */
  readonly body: unknown
  /** ArrayBuffers to transfer (never reused by the sender); may be empty. */
  readonly transfer: ArrayBuffer[]
}

/**
 * Encodes batches of envelopes for one port end and decodes the batches arriving on it.
 * Not thread-safe and not shareable between ports: create one per port end.
 */
export interface BatchCodec {
  /** Codec name, as in {@link CodecName}; both ends of a port must use the same codec. */
  readonly name: CodecName
  /**
   * Encodes `events[0 .. count)`.
   * @throws InvalidArgumentError (ERR_INVALID_ARGUMENT) when `count` is not an integer from 0 to `events.length`.
   */
  encode (events: readonly Envelope[], count: number): EncodedBatch
  /**
   * Encodes every event of a batch of pushes (`runtime.push()`'s own side of a port), decoded by
   * the peer as the envelopes `batch.envelopes()` would be. Codecs that gain nothing from the
   * columns encode those envelopes.
   */
  encodePushed (batch: PushBatch): EncodedBatch
  /**
   * Decodes one body produced by the peer's `encode`, in order.
   * @throws ProtocolError (ERR_PROTOCOL) when the body is not one this codec's peer produced next.
   */
  decode (body: unknown): Envelope[]
}

/** The codecs stagewire ships. */
export const CODEC_NAMES = ['clone', 'msgpack', 'shape'] as const

/** A codec's name. */
export type CodecName = typeof CODEC_NAMES[number]

/**
 * Checks a batch count: shared by the codecs so the message is the same everywhere.
 * @throws InvalidArgumentError (ERR_INVALID_ARGUMENT) when `count` is not an integer from 0 to `length`.
 * @internal
 */
export function checkCount (count: number, length: number): void {
  if (!Number.isInteger(count) || count < 0 || count > length) {
    throw new InvalidArgumentError(`count must be an integer from 0 to events.length (${length}), got ${String(count)}`)
  }
}
