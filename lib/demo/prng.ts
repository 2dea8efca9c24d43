/**
 * A small seeded PRNG for the demo (mulberry32, as test/helpers.ts): the same seed gives the same
 * feed and the same topic choices, so a run can be repeated exactly.
 * @internal
 */

/** A function returning uniform numbers in [0, 1), determined by `seed` (taken as a uint32). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
