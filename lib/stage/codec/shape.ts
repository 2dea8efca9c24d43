// The shape codec: learns the shape of the envelopes it sends (keys and the type of each value,
// nested objects included), compiles an encoder and a decoder specialised to each shape with
// `new Function`, and lays a batch out column-wise:
//
//   ┌ header (10 × u32) ┬ runs (u32 shapeId, u32 length)… ┬ numbers (f64)… ┬ new shapes (JSON) ┬ others (msgpack) ┬ strings ┐
//
// - numbers: every number, boolean (0/1) and string length, in field order, event after event;
// - strings: every string of the batch joined into one, written with one native call as latin1 when
//   the whole batch is ASCII, else as UTF-16 (lossless, lone surrogates included);
// - others: values the codec does not lay out itself (arrays, Dates, bigints, objects nested too
//   deep or with too many keys, null-prototype objects) and whole events whose shape it can not
//   learn, packed with one msgpackr call per batch;
// - new shapes: the definitions of shapes first used in this batch, so the receiver learns them in
//   the same order (the reason one ShapeCodec serves one port end, and batches must be decoded in
//   order: a sequence number in the header checks it).
//
// The batch is written in place in a SharedArrayBuffer ring owned by the sending end, and only its
// offset is posted (the ring itself goes once, with the first batch); when the receiver lags and
// the ring has no room, the batch goes in its own transferred ArrayBuffer instead.
//
//   sender: reserve ─► write ─► post(offset)   receiver: decode (copies everything out) ─► release
//
// The decoder reads the strings with one native call and cuts each event's string out with
// `substring`. Measured: 33 ns a 100-char string against 79 ns for one latin1Slice per string,
// and 25 ns against 72 ns for one latin1Write per string on the encoding side. The price: V8 keeps
// such a substring as a slice of the batch's string, so an event kept long after its batch keeps
// that whole string alive (at most one batch's strings per kept event). `copyStrings: true` copies
// each string instead, at the per-string price.
//
// Key order: an object with the same keys as a learned shape in another order matches that shape
// and decodes in the shape's order (key order carries no meaning in JSON-like data).
import { Packr, Unpackr } from 'msgpackr'
import type { Envelope } from '../envelope.js'
import type { PushBatch } from '../push-batch.js'
import { ProtocolError } from '../../errors.js'
import { checkCount, type BatchCodec, type EncodedBatch } from './codec.js'

/** A value's layout: number, string, boolean, null, undefined, other (msgpack), or a nested object's fields. */
type Kind = 'n' | 's' | 'b' | 'z' | 'u' | 'a' | Field[]
/** One key of an object and the layout of its value. */
type Field = [key: string, kind: Kind]

/** Writes one event into the columns and returns the new number cursor, or -1 when the event has another shape. */
type EncodeFn = (e: unknown, f: Float64Array, p: number, strings: StringBox, others: unknown[]) => number
/**
 * Writes one pushed event (`PushBatch`'s columns, no envelope object) into the columns, as
 * {@link EncodeFn} would write its envelope; -1 when the event has another shape.
 */
type EncodePartsFn = (id: number, ts: number, payload: unknown, topic: string | undefined, event: string | undefined, f: Float64Array, p: number, strings: StringBox, others: unknown[]) => number
/** The batch's strings, concatenated as they are met (measured: 15 ns a string where push-then-join costs 42). */
interface StringBox { s: string }
/** Cursors through one batch while decoding: number, string, other, event. */
type Cursor = [p: number, q: number, a: number, j: number]
/** Rebuilds `n` events of one shape from the columns into `out`. */
type DecodeFn = (f: Float64Array, s: string | StringReader, others: unknown[], out: unknown[], n: number, c: Cursor) => void
/** Copies the string between two char offsets out of the batch (the `copyStrings` mode). */
type StringReader = (from: number, to: number) => string

/**
 * A learned shape on the sending side. `parts` is its pushed-event encoder, compiled when a push
 * batch first meets the shape (undefined until then; null when the shape is not an envelope's).
 */
interface Shape { readonly id: number, readonly fields: Field[], readonly slots: number, readonly encode: EncodeFn, parts?: EncodePartsFn | null }

/** Options of a {@link ShapeCodec}. */
export interface ShapeCodecOptions {
  /** Copy each decoded string instead of slicing it from the batch's string (see the file comment). Default false. */
  readonly copyStrings?: boolean | undefined
  /** Bytes of the shared ring this end sends through; 0 sends every batch in its own transferred ArrayBuffer. Default 2 MiB. */
  readonly ringBytes?: number | undefined
}

const MAGIC = 0x53574231 // 'SWB1'
const HEADER_WORDS = 10
const HEADER_BYTES = HEADER_WORDS * 4
/** Nesting below the envelope that is laid out; deeper objects go to msgpack. */
const MAX_DEPTH = 4
/** Keys per object that are laid out; an object with more goes to msgpack. */
const MAX_KEYS = 64
/** Shapes learned per direction; events of further shapes go to msgpack whole (so dynamic keys can not grow the table). */
const MAX_SHAPES = 256
/** Shape id 0: the whole event is an "other" value. */
const FALLBACK_ID = 0
const ENCODING_LATIN1 = 0
const ENCODING_UTF16 = 1
const EMPTY: unknown[] = []
const NO_TRANSFER: ArrayBuffer[] = []
/** Default ring per sending port end: room for several batches of 1000 events of a few hundred bytes. */
const DEFAULT_RING_BYTES = 2 * 1024 * 1024

const getProto = Object.getPrototypeOf
const OBJECT_PROTO: unknown = Object.prototype

/** Lays out a plain object's fields, or returns null when it is not a plain object the codec lays out. */
function describe (o: object, depth: number): Field[] | null {
  if (getProto(o) !== OBJECT_PROTO) return null
  const fields: Field[] = []
  for (const key in o) {
    if (key === '__proto__' || fields.length === MAX_KEYS) return null
    fields.push([key, kindOf((o as Record<string, unknown>)[key], depth)])
  }
  return fields
}

function kindOf (v: unknown, depth: number): Kind {
  switch (typeof v) {
    case 'number': return 'n'
    case 'string': return 's'
    case 'boolean': return 'b'
    case 'undefined': return 'u'
    case 'object':
      if (v === null) return 'z'
      return (depth < MAX_DEPTH ? describe(v, depth + 1) : null) ?? 'a'
    default: return 'a'
  }
}

/** Counts the number-column slots one event of these fields takes. */
function slotsOf (fields: Field[]): number {
  let n = 0
  for (const [, kind] of fields) n += typeof kind === 'string' ? (kind === 'n' || kind === 's' || kind === 'b' ? 1 : 0) : slotsOf(kind)
  return n
}

/**
 * Generates the checks and writes of values of known kinds, for the compiled encoders: every check
 * first, then every write, so a mismatch writes nothing. An object matches when it has a plain
 * prototype, as many own keys as the shape, and each of the shape's keys holds a value of the
 * shape's type; so the same keys in another order match too, and decode in the shape's order.
 */
class EncoderSource {
  readonly checks: string[] = []
  readonly writes: string[] = []
  #v = 0

  /** Value `x` of kind `kind`, read from key `k` of object `o` (`o` null: `x` is a parameter). */
  value (x: string, kind: Kind, o: string | null, k: string): void {
    const { checks, writes } = this
    switch (kind) {
      case 'n': checks.push(`if (typeof ${x} !== 'number') return -1`); writes.push(`f[p++] = ${x}`); break
      case 's': checks.push(`if (typeof ${x} !== 'string') return -1`); writes.push(`f[p++] = ${x}.length`, `B.s += ${x}`); break
      case 'b': checks.push(`if (typeof ${x} !== 'boolean') return -1`); writes.push(`f[p++] = ${x} ? 1 : 0`); break
      case 'z': checks.push(`if (${x} !== null) return -1`); break
      case 'u': checks.push(o === null ? `if (${x} !== undefined) return -1` : `if (${x} !== undefined || !hasOwn(${o}, ${k})) return -1`); break
      case 'a': if (o !== null) checks.push(`if (!hasOwn(${o}, ${k})) return -1`); writes.push(`A.push(${x})`); break
      default:
        checks.push(`if (typeof ${x} !== 'object' || ${x} === null) return -1`)
        this.object(x, kind)
    }
  }

  /** The fields of object `o`. */
  object (o: string, fs: Field[]): void {
    // measured: Object.keys(o).length costs 39 ns an event where comparing keys in a for-in loop costs 86.
    this.checks.push(`if (getProto(${o}) !== OP || keys(${o}).length !== ${fs.length}) return -1`)
    for (const [key, kind] of fs) {
      const x = `v${this.#v++}`
      const k = JSON.stringify(key)
      this.checks.push(`const ${x} = ${o}[${k}]`)
      this.value(x, kind, o, k)
    }
  }

  /** The function `name(params)` that checks, writes and returns the new number cursor. */
  compile<F> (name: string, params: string): F {
    const src = `return function ${name} (${params}) {
  ${this.checks.join('\n  ')}
  ${this.writes.join('\n  ')}
  return p
}`
    return new Function('OP', 'getProto', 'keys', 'hasOwn', src)(OBJECT_PROTO, getProto, Object.keys, Object.hasOwn) as F
  }
}

/** Compiles the matcher-and-writer for one shape (see {@link EncoderSource}). */
function compileEncoder (fields: Field[]): EncodeFn {
  const source = new EncoderSource()
  source.checks.push('if (typeof e !== \'object\' || e === null) return -1')
  source.object('e', fields)
  return source.compile<EncodeFn>('encodeShape', 'e, f, p, B, A')
}

/** The parameter of a pushed-event encoder that holds each key of an envelope, with the kind it always has. */
const ENVELOPE_PARTS: Record<string, { param: string, kind: Kind | null }> = {
  id: { param: 'id', kind: 'n' },
  ts: { param: 'ts', kind: 'n' },
  payload: { param: 'x', kind: null },
  topic: { param: 'topic', kind: 's' },
  event: { param: 'event', kind: 's' },
}

/**
 * Compiles the encoder of pushed events (`PushBatch`'s columns) for a shape that is an envelope's:
 * `id`, `ts`, `payload`, and `topic`/`event` when present, as `IdSource.envelope` makes them. It
 * writes exactly what {@link compileEncoder}'s function writes for the same event as an envelope, so
 * the receiver cannot tell them apart; id and ts are numbers by construction and are not checked.
 * Null for a shape of any other keys or kinds (its events then go through envelopes).
 */
function compilePartsEncoder (fields: Field[]): EncodePartsFn | null {
  const keys = new Set(fields.map(([key]) => key))
  if (!keys.has('id') || !keys.has('ts') || !keys.has('payload')) return null
  for (const [key, kind] of fields) {
    const part = Object.hasOwn(ENVELOPE_PARTS, key) ? ENVELOPE_PARTS[key] : undefined
    if (part === undefined || (part.kind !== null && part.kind !== kind)) return null
  }
  const source = new EncoderSource()
  // A topic or event the shape lacks must be absent from the push too.
  if (!keys.has('topic')) source.checks.push('if (topic !== undefined) return -1')
  if (!keys.has('event')) source.checks.push('if (event !== undefined) return -1')
  for (const [key, kind] of fields) {
    const { param } = ENVELOPE_PARTS[key]
    if (key === 'id' || key === 'ts') source.writes.push(`f[p++] = ${param}`)
    else source.value(param, kind, null, '')
  }
  return source.compile<EncodePartsFn>('encodePushed', 'id, ts, x, topic, event, f, p, B, A')
}

/** Compiles the builder for one shape: one object literal per event, fields read in the order the encoder wrote them. */
function compileDecoder (fields: Field[], copyStrings: boolean): DecodeFn {
  const literal = (fs: Field[]): string => `{ ${fs.map(([key, kind]) => `${JSON.stringify(key)}: ${value(kind)}`).join(', ')} }`
  const value = (kind: Kind): string => {
    switch (kind) {
      case 'n': return 'f[p++]'
      case 's': return copyStrings ? 's(q, (q += f[p++]))' : 's.substring(q, (q += f[p++]))'
      case 'b': return '(f[p++] === 1)'
      case 'z': return 'null'
      case 'u': return 'undefined'
      case 'a': return 'A[a++]'
      default: return literal(kind)
    }
  }
  const src = `return function decodeShape (f, s, A, out, n, c) {
  let p = c[0], q = c[1], a = c[2], j = c[3]
  for (let i = 0; i < n; i++) out[j++] = ${literal(fields)}
  c[0] = p; c[1] = q; c[2] = a; c[3] = j
}`
  return new Function(src)() as DecodeFn
}

/** A shape's pushed-event encoder, compiled the first time a push batch needs it. */
function partsOf (shape: Shape): EncodePartsFn | null {
  if (shape.parts === undefined) shape.parts = shape.id === FALLBACK_ID ? null : compilePartsEncoder(shape.fields)
  return shape.parts
}

const encodeFallback: EncodeFn = (e, _f, p, _S, A) => { A.push(e); return p }
const decodeFallback: DecodeFn = (_f, _s, A, out, n, c) => {
  let a = c[2], j = c[3]
  for (let i = 0; i < n; i++) out[j++] = A[a++]
  c[2] = a; c[3] = j
}

/** Bytes at the ring's start for its control word (the count of batches the receiver has released), a cache line. */
const RING_CONTROL = 64

/**
 * The sender's side of a single-producer single-consumer ring in a SharedArrayBuffer: batches are
 * written in place and only their offset is posted. The receiver adds 1 to the control word when it
 * has decoded a batch (decoding copies everything out), and the sender then reuses that batch's bytes.
 * Batches are released in the order sent, so the sender keeps its in-flight batches in a FIFO.
 * measured: a transferred ArrayBuffer costs ~12 µs to allocate and ~5 µs more to post than a number,
 * 12-17 ns an event at batch 1000 on each hop; the ring also saves copying the strings from scratch.
 */
class Ring {
  readonly sab: SharedArrayBuffer
  readonly bytes: Buffer
  readonly #control: Int32Array
  readonly #end: number
  readonly #starts: number[] = [] // offsets of the batches in flight, oldest first
  #released = 0
  #head = RING_CONTROL
  shared = false // the receiver has been sent the SharedArrayBuffer

  constructor (bytes: number) {
    this.sab = new SharedArrayBuffer(RING_CONTROL + bytes)
    this.bytes = Buffer.from(this.sab)
    this.#control = new Int32Array(this.sab, 0, 1)
    this.#end = RING_CONTROL + bytes
  }

  /** Offset of `size` free contiguous bytes, or -1 when the receiver has not released enough. */
  reserve (size: number): number {
    const released = Atomics.load(this.#control, 0)
    while (this.#released !== released) { this.#starts.shift(); this.#released = (this.#released + 1) | 0 }
    if (this.#starts.length === 0) this.#head = RING_CONTROL
    const head = this.#head
    const tail = this.#starts.length === 0 ? this.#end : this.#starts[0]
    if (head > tail || this.#starts.length === 0) {
      if (this.#end - head >= size) return head
      return tail - RING_CONTROL >= size && this.#starts.length > 0 ? RING_CONTROL : -1
    }
    return tail - head >= size ? head : -1
  }

  /** Marks `[at, at + size)` in flight. */
  commit (at: number, size: number): void {
    this.#starts.push(at)
    this.#head = at + ((size + 7) & ~7)
  }
}

/** The receiver's handle on its peer's ring: a batch's bytes are read in place, then released. */
interface PeerRing { readonly sab: SharedArrayBuffer, readonly bytes: Buffer, readonly control: Int32Array }

/**
 * The fastest codec measured here for events whose shape repeats (benchmarks/codec.bench.ts): a
 * batch of `{ id, ts, payload: { n, s } }` costs a fraction of msgpackr's encode and decode. Any
 * JSON-like value round-trips (others go through msgpackr); state is per direction, so create one
 * per port end and decode every batch in order.
 */
export class ShapeCodec implements BatchCodec {
  readonly name = 'shape' as const
  readonly #copyStrings: boolean
  // Sending side.
  readonly #shapes: Shape[] = [{ id: FALLBACK_ID, fields: [], slots: 0, encode: encodeFallback }]
  readonly #bySignature = new Map<string, Shape>()
  #announced = 1 // shapes the peer has been sent
  #current: Shape | null = null
  #previous: Shape | null = null
  #numbers: Float64Array = new Float64Array(4096)
  #scratch = Buffer.allocUnsafeSlow(64 * 1024)
  readonly #strings: StringBox = { s: '' }
  readonly #others: unknown[] = []
  readonly #runs: number[] = []
  readonly #packr = new Packr({ structuredClone: false, useRecords: true })
  #sent = 0
  readonly #ringBytes: number
  #ring: Ring | null = null
  // Receiving side.
  #peerRing: PeerRing | null = null
  readonly #decoders: DecodeFn[] = [decodeFallback]
  readonly #unpackr = new Unpackr({ structuredClone: false, useRecords: true, copyBuffers: true })
  readonly #cursor: Cursor = [0, 0, 0, 0]
  #received = 0

  /** @throws TypeError when `options.copyStrings` is not a boolean; RangeError when `options.ringBytes` is not an integer from 0 to 1 GiB. */
  constructor (options: ShapeCodecOptions = {}) {
    const { copyStrings = false, ringBytes = DEFAULT_RING_BYTES } = options
    if (typeof copyStrings !== 'boolean') throw new TypeError(`options.copyStrings must be a boolean, got ${JSON.stringify(copyStrings)}`)
    if (!Number.isInteger(ringBytes) || ringBytes < 0 || ringBytes > 2 ** 30) {
      throw new RangeError(`options.ringBytes must be an integer from 0 to ${2 ** 30}, got ${String(ringBytes)}`)
    }
    this.#copyStrings = copyStrings
    this.#ringBytes = ringBytes & ~7
  }

  /** @throws InvalidArgumentError (ERR_INVALID_ARGUMENT) on a bad `count`; whatever msgpackr throws for a value it can not pack. */
  encode (events: readonly Envelope[], count: number): EncodedBatch {
    checkCount(count, events.length)
    this.#reset() // left over if the last encode threw
    const announced = this.#announced
    const numberCount = this.#columns(events, count)
    const batch = this.#write(count, announced, numberCount, this.#strings.s)
    this.#reset()
    return batch
  }

  /** Empties the columns an encode fills (strings, others, shape runs). */
  #reset (): void {
    this.#strings.s = ''
    this.#others.length = 0
    this.#runs.length = 0
  }

  /**
   * Encodes every event of `batch` from its columns, without envelope objects; the receiver decodes
   * the same envelopes {@link encode} would have sent.
   * @throws whatever msgpackr throws for a value it can not pack.
   */
  encodePushed (batch: PushBatch): EncodedBatch {
    this.#reset()
    const announced = this.#announced
    const numberCount = this.#pushedColumns(batch)
    const encoded = this.#write(batch.length, announced, numberCount, this.#strings.s)
    this.#reset()
    return encoded
  }

  /** {@link #columns} for pushed events: through the shapes' parts encoders, an envelope only to learn a shape. */
  #pushedColumns (batch: PushBatch): number {
    const { ids, ts, payloads, topics, events } = batch
    const count = batch.length
    const strings = this.#strings
    const others = this.#others
    const runs = this.#runs
    let f = this.#numbers
    let shape = this.#current
    let parts = shape === null ? null : partsOf(shape)
    let p = 0
    let runId = -1
    let runStart = 0
    for (let i = 0; i < count; i++) {
      let next = -1
      if (parts !== null && shape !== null) {
        if (p + shape.slots > f.length) f = this.#grow(p + shape.slots)
        next = parts(ids[i], ts[i], payloads[i], topics[i], events[i], f, p, strings, others)
      }
      if (shape === null || next < 0) {
        next = this.#encodeLearning(batch.envelope(i), p)
        shape = this.#learned
        f = this.#numbers
        parts = partsOf(shape)
      }
      if (shape.id !== runId) {
        if (i > 0) runs.push(runId, i - runStart)
        runId = shape.id
        runStart = i
      }
      p = next
    }
    if (count > 0) runs.push(runId, count - runStart)
    this.#current = shape
    return p
  }

  /** The shape {@link #encodeLearning} encoded its event with. */
  #learned: Shape = this.#shapes[FALLBACK_ID] as Shape

  /**
   * The slow path of both column writers, taken when an event does not fit the current shape: finds
   * (or learns) its shape, or takes the fallback, encodes it at `p` (growing the numbers), and leaves
   * the shape in {@link #learned}. Returns where its numbers end.
   */
  #encodeLearning (e: Envelope, p: number): number {
    let shape = this.#shapeOf(e)
    const f = p + shape.slots > this.#numbers.length ? this.#grow(p + shape.slots) : this.#numbers
    let next = shape.encode(e, f, p, this.#strings, this.#others)
    if (next < 0) {
      shape = this.#shapes[FALLBACK_ID] as Shape
      next = encodeFallback(e, f, p, this.#strings, this.#others)
    }
    this.#learned = shape
    return next
  }

  /** Writes the events into the columns, shape run after shape run; returns the count of numbers. */
  #columns (events: readonly Envelope[], count: number): number {
    const strings = this.#strings
    const others = this.#others
    const runs = this.#runs
    let f = this.#numbers
    let shape = this.#current
    let p = 0
    let runId = -1
    let runStart = 0
    for (let i = 0; i < count; i++) {
      const e = events[i]
      let next = -1
      if (shape !== null && shape.id !== FALLBACK_ID) {
        if (p + shape.slots > f.length) f = this.#grow(p + shape.slots)
        next = shape.encode(e, f, p, strings, others)
      }
      if (shape === null || next < 0) {
        next = this.#encodeLearning(e, p)
        shape = this.#learned
        f = this.#numbers
      }
      if (shape.id !== runId) {
        if (i > 0) runs.push(runId, i - runStart)
        runId = shape.id
        runStart = i
      }
      p = next
    }
    if (count > 0) runs.push(runId, count - runStart)
    this.#current = shape
    return p
  }

  /** @throws ProtocolError (ERR_PROTOCOL) when the body is not the next batch from a ShapeCodec peer. */
  decode (body: unknown): Envelope[] {
    if (typeof body === 'number') {
      const ring = this.#peerRing
      if (ring === null) throw new ProtocolError('shape codec: a ring batch arrived before its ring')
      try {
        return this.#read(ring.sab, ring.bytes, body)
      } finally {
        Atomics.add(ring.control, 0, 1) // everything is copied out: the sender may reuse the bytes
      }
    }
    if (body instanceof ArrayBuffer) return this.#read(body, Buffer.from(body), 0)
    if (typeof body === 'object' && body !== null && 'ring' in body && body.ring instanceof SharedArrayBuffer && 'at' in body) {
      this.#peerRing = { sab: body.ring, bytes: Buffer.from(body.ring), control: new Int32Array(body.ring, 0, 1) }
      return this.decode(body.at)
    }
    throw new ProtocolError('shape codec: expected a body from ShapeCodec.encode')
  }

  /** Decodes the batch at `base` in `memory` (a transferred ArrayBuffer or the peer's ring). */
  #read (memory: ArrayBufferLike, bytes: Buffer, base: number): Envelope[] {
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0 || base + HEADER_BYTES > memory.byteLength) {
      throw new ProtocolError(`shape codec: no batch at offset ${String(base)}`)
    }
    const [magic, seq, count, known, runCount, numberCount, defsBytes, othersBytes, stringBytes, encoding] = new Uint32Array(memory, base, HEADER_WORDS)
    if (magic !== MAGIC) throw new ProtocolError('shape codec: the body is not a shape-codec batch')
    if (seq !== this.#received) {
      throw new ProtocolError(`shape codec: batch ${seq} arrived where batch ${this.#received} was expected (lost or reordered)`)
    }
    if (known !== this.#decoders.length) {
      throw new ProtocolError(`shape codec: the batch assumes ${known} known shapes, the receiver has ${this.#decoders.length}`)
    }
    this.#received = (this.#received + 1) >>> 0
    const runs = new Uint32Array(memory, base + HEADER_BYTES, runCount * 2)
    let at = base + HEADER_BYTES + runCount * 8
    const numbers = new Float64Array(memory, at, numberCount)
    at += numberCount * 8
    if (defsBytes > 0) {
      const defs = JSON.parse(bytes.toString('utf8', at, at + defsBytes)) as Field[][]
      for (const fields of defs) this.#decoders.push(compileDecoder(fields, this.#copyStrings))
      at += defsBytes
    }
    const others = othersBytes > 0 ? this.#unpackr.unpack(bytes.subarray(at, at + othersBytes)) as unknown[] : EMPTY
    at += othersBytes
    // copyStrings decoders call a reader even when every string of the batch is empty.
    const strings = this.#copyStrings ? stringReader(bytes, at, encoding) : stringBytes === 0 ? '' : bytes.toString(encoding === ENCODING_UTF16 ? 'utf16le' : 'latin1', at, at + stringBytes)
    const out = new Array<unknown>(count)
    const c = this.#cursor
    c[0] = 0; c[1] = 0; c[2] = 0; c[3] = 0
    for (let r = 0; r < runs.length; r += 2) {
      const decodeRun = this.#decoders[runs[r]]
      if (decodeRun === undefined) throw new ProtocolError(`shape codec: unknown shape ${runs[r]}`)
      decodeRun(numbers, strings, others, out, runs[r + 1], c)
    }
    if (c[3] !== count || c[0] !== numberCount || c[2] !== others.length) {
      throw new ProtocolError('shape codec: the batch is inconsistent with its shapes')
    }
    return out as Envelope[]
  }

  /** Finds or learns the shape of an event that did not match the current one. */
  #shapeOf (e: unknown): Shape {
    const previous = this.#previous
    this.#previous = this.#current
    // measured: alternating between two shapes would otherwise describe every event (~1 µs).
    if (previous !== null && previous.id !== FALLBACK_ID && previous.encode(e, new Float64Array(previous.slots), 0, { s: '' }, []) >= 0) return previous
    const fields = typeof e === 'object' && e !== null ? describe(e, 0) : null
    if (fields === null) return this.#shapes[FALLBACK_ID]
    const signature = JSON.stringify(fields)
    let shape = this.#bySignature.get(signature)
    if (shape === undefined) {
      if (this.#shapes.length === MAX_SHAPES) return this.#shapes[FALLBACK_ID]
      shape = { id: this.#shapes.length, fields, slots: slotsOf(fields), encode: compileEncoder(fields) }
      this.#shapes.push(shape)
      this.#bySignature.set(signature, shape)
    }
    return shape
  }

  #grow (need: number): Float64Array {
    const f = new Float64Array(Math.max(need, this.#numbers.length * 2))
    f.set(this.#numbers)
    this.#numbers = f
    return f
  }

  /** Lays the batch out in a fresh ArrayBuffer; announces the shapes learned since the last batch. */
  #write (count: number, announced: number, numberCount: number, joined: string): EncodedBatch {
    const shapes = this.#shapes
    const runs = this.#runs
    const defs = shapes.length > announced ? JSON.stringify(shapes.slice(announced).map((s) => s.fields)) : ''
    const defsBytes = defs === '' ? 0 : Buffer.byteLength(defs)
    const othersPacked = this.#others.length > 0 ? this.#packr.pack(this.#others) : null
    const othersBytes = othersPacked === null ? 0 : othersPacked.length
    const fixed = HEADER_BYTES + runs.length * 4 + numberCount * 8 + defsBytes + othersBytes
    const chars = joined.length
    // Strings go last: their byte length is known only once written (utf8, at most 3 bytes a char).
    if (this.#ring === null && this.#ringBytes > 0) this.#ring = new Ring(this.#ringBytes)
    const ring = this.#ring
    const base = ring === null ? -1 : ring.reserve(fixed + chars * 3)
    let target: Buffer
    let memory: ArrayBufferLike
    let at = base
    if (ring !== null && base >= 0) {
      target = ring.bytes
      memory = ring.sab
    } else {
      // Standalone batch: the strings go to scratch first, so the transferred buffer is exactly sized.
      if (this.#scratch.length < chars * 3) this.#scratch = Buffer.allocUnsafeSlow(chars * 3)
      const n = chars === 0 ? 0 : this.#scratch.write(joined, 0, 'utf8')
      const stringBytes = n === chars ? n : this.#scratch.write(joined, 0, 'utf16le')
      target = Buffer.allocUnsafeSlow(fixed + stringBytes)
      memory = target.buffer
      at = 0
    }
    const h = new Uint32Array(memory, at, HEADER_WORDS)
    h[0] = MAGIC; h[1] = this.#sent; h[2] = count; h[3] = announced; h[4] = runs.length / 2; h[5] = numberCount
    h[6] = defsBytes; h[7] = othersBytes
    new Uint32Array(memory, at + HEADER_BYTES, runs.length).set(runs)
    let p = at + HEADER_BYTES + runs.length * 4
    new Float64Array(memory, p, numberCount).set(this.#numbers.subarray(0, numberCount))
    p += numberCount * 8
    if (defsBytes > 0) p += target.write(defs, p, 'utf8')
    if (othersPacked !== null) { target.set(othersPacked, p); p += othersBytes }
    let stringBytes: number
    if (base >= 0) {
      stringBytes = chars === 0 ? 0 : target.write(joined, p, 'utf8')
      if (stringBytes !== chars) stringBytes = target.write(joined, p, 'utf16le')
    } else {
      stringBytes = target.length - p
      if (stringBytes > 0) this.#scratch.copy(target, p, 0, stringBytes)
    }
    h[8] = stringBytes
    h[9] = stringBytes === chars ? ENCODING_LATIN1 : ENCODING_UTF16
    this.#sent = (this.#sent + 1) >>> 0
    this.#announced = shapes.length
    if (ring === null || base < 0) {
      const ab = memory as ArrayBuffer
      return { body: ab, transfer: [ab] }
    }
    ring.commit(base, p + stringBytes - base)
    if (ring.shared) return { body: base, transfer: NO_TRANSFER }
    ring.shared = true
    return { body: { ring: ring.sab, at: base }, transfer: NO_TRANSFER }
  }
}

function stringReader (bytes: Buffer, at: number, encoding: number): StringReader {
  return encoding === ENCODING_UTF16
    ? (from, to) => bytes.toString('utf16le', at + from * 2, at + to * 2)
    : (from, to) => bytes.toString('latin1', at + from, at + to)
}
