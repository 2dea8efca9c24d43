// Helpers shared by the stage tests that run real threads.
import type { Runtime } from '../../lib/index.js'
import type { StageInfo } from '../../lib/stage/wiring.js'
import { fixture } from '../helpers.js'

/** Absolute path of a stage fixture in test/fixtures/stages/. */
export const stage = (name: string): string => fixture(`stages/${name}`)

/** The integers from `from` to `to`, inclusive. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** What the ledger.ts fixture answers. */
export interface Ledger { payloads: unknown[], from: string[], chunks: number[], started: number }

/** One stage's live figures. */
export function info (rt: Runtime, id: string): StageInfo {
  const found = rt.stages().find((s) => s.id === id)
  if (found === undefined) throw new Error(`no stage ${id}`)
  return found
}

/**
 * Asks a fixture stage to crash on its next turn. The reply can lose the race with the thread's
 * exit (it travels on another port), so ERR_ACTOR_GONE counts as done too; tests wait on events.
 */
export async function crash (rt: Runtime, id: string): Promise<void> {
  await rt.call(id, 'crash').catch((err: { code?: string }) => {
    if (err.code !== 'ERR_ACTOR_GONE') throw err
  })
}

/** Pushes the integers `from`..`to` into producer `source`. */
export function pushRange (rt: Runtime, from: number, to: number, into = 'source'): void {
  for (let i = from; i <= to; i++) rt.push(into, i)
}
