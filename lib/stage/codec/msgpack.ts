// msgpackr with record structures, sequential per direction: a shape's keys are written once, in
// the first batch that uses it, and later batches refer to it by id (msgpackr's `sequential` mode).
// That state is why one MsgpackCodec serves exactly one port end: its Packr encodes one direction
// and its Unpackr decodes the other, and the receiver must unpack every batch in order.
import { Packr, Unpackr } from 'msgpackr'
import type { Envelope } from '../envelope.js'
import type { PushBatch } from '../push-batch.js'
import { ProtocolError } from '../../errors.js'
import { checkCount, type BatchCodec, type EncodedBatch } from './codec.js'

/** Bytes before the msgpack data: a batch sequence number (uint32), so a lost or reordered batch is caught. */
const HEADER = 4

/**
 * msgpackr records over a transferred ArrayBuffer. `pack()` returns a view into the Packr's own
 * reusable buffer, so each batch is copied into a fresh ArrayBuffer that is transferred (transferring
 * the view would detach the Packr's memory). Decoded Buffers are copied (`copyBuffers`), so nothing
 * decoded keeps the transferred memory alive.
 */
export class MsgpackCodec implements BatchCodec {
  readonly name = 'msgpack' as const
  readonly #packr = new Packr({ structuredClone: false, useRecords: true, sequential: true })
  readonly #unpackr = new Unpackr({ structuredClone: false, useRecords: true, sequential: true, copyBuffers: true })
  #sent = 0
  #received = 0

  /** @throws InvalidArgumentError (ERR_INVALID_ARGUMENT) on a bad `count`. */
  encode (events: readonly Envelope[], count: number): EncodedBatch {
    checkCount(count, events.length)
    const packed = this.#packr.pack(count === events.length ? events : events.slice(0, count))
    const out = Buffer.allocUnsafeSlow(HEADER + packed.length)
    out.writeUInt32LE(this.#sent, 0)
    this.#sent = (this.#sent + 1) >>> 0
    out.set(packed, HEADER)
    const ab = out.buffer as ArrayBuffer
    return { body: ab, transfer: [ab] }
  }

  encodePushed (batch: PushBatch): EncodedBatch {
    return this.encode(batch.envelopes(), batch.length)
  }

  /** @throws ProtocolError (ERR_PROTOCOL) when the body is not the next ArrayBuffer from the peer's encode. */
  decode (body: unknown): Envelope[] {
    if (!(body instanceof ArrayBuffer) || body.byteLength < HEADER) {
      throw new ProtocolError('msgpack codec: expected an ArrayBuffer body from MsgpackCodec.encode')
    }
    const bytes = Buffer.from(body)
    const seq = bytes.readUInt32LE(0)
    if (seq !== this.#received) {
      throw new ProtocolError(`msgpack codec: batch ${seq} arrived where batch ${this.#received} was expected (lost or reordered)`)
    }
    this.#received = (this.#received + 1) >>> 0
    const events: unknown = this.#unpackr.unpack(bytes.subarray(HEADER))
    if (!Array.isArray(events)) throw new ProtocolError('msgpack codec: the body did not decode to an array')
    return events as Envelope[]
  }
}
