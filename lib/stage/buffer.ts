// The producer's bounded event buffer: events emitted while no consumer has demand wait here.
//
//   push(events) ─► ┌─────────── ring (grows by doubling, up to bufferSize) ───────────┐
//                   │ head → e5 e6 e7 e8 …                                            │ ─► take(n)
//                   └──────────────────────────────────────────────────────────────────┘
//   full, bufferKeep 'last'  → drop the oldest (from the head) to make room: the freshest survive
//   full, bufferKeep 'first' → drop the incoming newest: what is already queued survives
//   every drop is counted (`dropped`) and returned by push, for the producer to report
//
// GenStage keeps the same buffer (buffer_size default 10,000, buffer_keep :last) in an Erlang
// queue; here it is a ring over a plain array, because Array#shift is O(n) and allocating per event
// is what the hot path cannot afford. Unlike GenStage, the size can not be infinite: every queue in
// stagewire is bounded (a producer-consumer's too).

/** Which events a full buffer keeps: `'last'` drops the oldest, `'first'` drops the newest. */
export type BufferKeep = 'first' | 'last'

/** Options of an {@link EventBuffer}. */
export interface EventBufferOptions {
  /** Most events held: an integer from 0 (drop everything) to {@link MAX_BUFFER_SIZE}. Default {@link DEFAULT_BUFFER_SIZE}. */
  readonly bufferSize?: number | undefined
  /** What to drop when full. Default `'last'` (keep the newest), as GenStage. */
  readonly bufferKeep?: BufferKeep | undefined
}

/** GenStage's default `buffer_size`. */
export const DEFAULT_BUFFER_SIZE = 10_000

/**
 * Largest `bufferSize`: the ring indexes with 32-bit masks, and a buffer of a billion events is
 * already a leak rather than a bound.
 */
export const MAX_BUFFER_SIZE = 2 ** 30

/** First storage size: small, so that a buffer that never fills never costs bufferSize slots. */
const INITIAL_SLOTS = 16

/**
 * A bounded FIFO of events with an overflow policy and a drop counter. Storage starts small and
 * doubles as needed up to the next power of two at or above `bufferSize`; slots are cleared as
 * events leave so the buffer never keeps an event alive.
 */
export class EventBuffer<E> {
  /** Most events held. */
  readonly bufferSize: number
  /** What a full buffer drops. */
  readonly bufferKeep: BufferKeep
  // Power-of-two storage: `index & mask` instead of a modulo.
  #slots: (E | undefined)[]
  #mask: number
  #head = 0
  #length = 0
  #dropped = 0

  /**
   * @throws RangeError when `bufferSize` is not an integer from 0 to {@link MAX_BUFFER_SIZE}, TypeError when `bufferKeep`
   *   is not 'first' or 'last'.
   */
  constructor(options: EventBufferOptions = {}) {
    const { bufferSize = DEFAULT_BUFFER_SIZE, bufferKeep = 'last' } = options
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 0 || bufferSize > MAX_BUFFER_SIZE) {
      throw new RangeError(`options.bufferSize must be an integer from 0 to ${MAX_BUFFER_SIZE}, got ${String(bufferSize)}`)
    }
    if (bufferKeep !== 'first' && bufferKeep !== 'last') {
      throw new TypeError(`options.bufferKeep must be one of first|last, got ${JSON.stringify(bufferKeep)}`)
    }
    this.bufferSize = bufferSize
    this.bufferKeep = bufferKeep
    const slots = Math.min(INITIAL_SLOTS, nextPowerOfTwo(bufferSize))
    this.#slots = new Array<E | undefined>(slots)
    this.#mask = slots - 1
  }

  /** Events held now. */
  get length(): number {
    return this.#length
  }

  /** Events dropped since the buffer was created. */
  get dropped(): number {
    return this.#dropped
  }

  /**
   * Appends the first `count` of `events`, in order, dropping by `bufferKeep` when full.
   * Returns how many events this call dropped (old ones for 'last', incoming ones for 'first').
   * @throws RangeError when `count` does not fit `events`.
   */
  push(events: readonly E[], count: number): number {
    if (!Number.isSafeInteger(count) || count < 0 || count > events.length) {
      throw new RangeError(`push count must be an integer from 0 to events.length (${events.length}), got ${String(count)}`)
    }
    const size = this.bufferSize
    let from = 0
    let dropped = 0
    if (this.bufferKeep === 'first') {
      const room = size - this.#length
      if (count > room) {
        dropped = count - room
        count = room
      }
    } else {
      if (count >= size) {
        // The batch alone fills the buffer: everything held and the batch's oldest part go.
        dropped = this.#length + count - size
        from = count - size
        this.#discard(this.#length)
      } else {
        const over = this.#length + count - size
        if (over > 0) {
          dropped = over
          this.#discard(over)
        }
      }
    }
    const n = count - from
    if (n > 0) {
      this.#reserve(this.#length + n)
      const slots = this.#slots
      const mask = this.#mask
      let tail = (this.#head + this.#length) & mask
      for (let i = from; i < count; i++) {
        slots[tail] = events[i]
        tail = (tail + 1) & mask
      }
      this.#length += n
    }
    this.#dropped += dropped
    return dropped
  }

  /** Appends one event; returns 1 if it (for 'first') or the oldest (for 'last') was dropped, else 0. */
  pushOne(event: E): number {
    if (this.#length < this.bufferSize) {
      this.#reserve(this.#length + 1)
      this.#slots[(this.#head + this.#length) & this.#mask] = event
      this.#length++
      return 0
    }
    this.#dropped++
    if (this.bufferKeep === 'first' || this.bufferSize === 0) return 1
    this.#discard(1)
    this.#slots[(this.#head + this.#length) & this.#mask] = event
    this.#length++
    return 1
  }

  /**
   * Puts events back at the front, in order, ahead of everything buffered: for events taken with
   * {@link take} that could not be sent after all. They fit: they were just taken.
   * @throws RangeError when they do not fit.
   */
  unshift(events: readonly E[]): void {
    const n = events.length
    if (this.#length + n > this.bufferSize) throw new RangeError(`unshift of ${n} events overflows a buffer of ${this.bufferSize} holding ${this.#length}`)
    if (n === 0) return
    this.#reserve(this.#length + n)
    const mask = this.#mask
    let head = (this.#head - n) & mask
    this.#head = head
    for (let i = 0; i < n; i++) {
      this.#slots[head] = events[i]
      head = (head + 1) & mask
    }
    this.#length += n
  }

  /**
   * Removes up to `n` events from the front and returns them in order (a new array).
   * @throws RangeError when `n` is not a non-negative integer.
   */
  take(n: number): E[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`take count must be a non-negative integer, got ${String(n)}`)
    const count = Math.min(n, this.#length)
    const out = new Array<E>(count)
    const slots = this.#slots
    const mask = this.#mask
    let head = this.#head
    for (let i = 0; i < count; i++) {
      out[i] = slots[head] as E
      slots[head] = undefined
      head = (head + 1) & mask
    }
    this.#head = head
    this.#length -= count
    return out
  }

  /** Drops the `n` oldest events (they are counted by the caller). */
  #discard(n: number): void {
    const slots = this.#slots
    const mask = this.#mask
    let head = this.#head
    for (let i = 0; i < n; i++) {
      slots[head] = undefined
      head = (head + 1) & mask
    }
    this.#head = head
    this.#length -= n
  }

  /** Makes room for `needed` events, doubling the storage and unrolling the ring into it. */
  #reserve(needed: number): void {
    const old = this.#slots
    if (needed <= old.length) return
    let capacity = old.length
    while (capacity < needed) capacity *= 2
    const slots = new Array<E | undefined>(capacity)
    const mask = this.#mask
    let head = this.#head
    for (let i = 0; i < this.#length; i++) {
      slots[i] = old[head]
      head = (head + 1) & mask
    }
    this.#slots = slots
    this.#mask = capacity - 1
    this.#head = 0
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}
