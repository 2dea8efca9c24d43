/**
 * Remembers the ids of the latest events, to spot one delivered twice: the bounded memory of a
 * demo client's duplicate check (one window per client and topic).
 *
 * Two generations of at most `size / 2` ids each: when the current one fills up, it becomes the
 * previous one and the old previous one is dropped. An id is remembered for at least the last
 * `size / 2` and at most the last `size` ids recorded; a duplicate further apart is not seen.
 * No per-id eviction, no iterator: two Set lookups per id.
 * @internal
 */
export class DedupWindow {
  readonly #half: number
  #current = new Set<number | string>()
  #previous = new Set<number | string>()

  /** @param size how many of the latest ids to remember, at least (2 or more). */
  constructor (size: number) {
    this.#half = Math.max(1, Math.floor(size / 2))
  }

  /** Records `id`; true when it was already among the remembered ids (a duplicate). */
  seen (id: number | string): boolean {
    if (this.#current.has(id) || this.#previous.has(id)) return true
    if (this.#current.size >= this.#half) {
      this.#previous = this.#current
      this.#current = new Set()
    }
    this.#current.add(id)
    return false
  }
}
