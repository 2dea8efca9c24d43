// Small shared helpers for tests: fixture paths and waiting on events.
import { fileURLToPath } from 'node:url'
import type { EventEmitter } from 'eventemitter3'

/** Absolute path of a module in test/fixtures/. */
export function fixture (name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
}

/**
 * Resolves with the first `event` whose payload satisfies `accept`.
 * Rejects after `timeoutMs` so a broken test fails with a message instead of hanging.
 */
export function waitFor<T> (
  emitter: EventEmitter<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  event: string,
  accept: (payload: T) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`))
    }, timeoutMs)
    function listener (payload: T): void {
      if (!accept(payload)) return
      clearTimeout(timer)
      emitter.off(event, listener)
      resolve(payload)
    }
    emitter.on(event, listener)
  })
}

/** Records every event of the given names, in order, as `name:id`. */
export function record (
  emitter: EventEmitter<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  events: string[],
): string[] {
  const log: string[] = []
  for (const name of events) emitter.on(name, (payload: { id?: string }) => log.push(`${name}:${payload.id ?? ''}`))
  return log
}

/** mulberry32: a tiny seeded PRNG, so a failing random run can be replayed from its seed. */
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
