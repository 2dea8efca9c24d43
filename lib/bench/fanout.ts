/**
 * Scenario `fanout`: one broadcast to every client of one topic; see fanout/measure.ts for what a
 * run does and fanout/server.ts for the contenders (stagewire's Endpoint, socket.io rooms, a plain
 * loop over `ws` sockets). socket.io is a development dependency: from an installed package that
 * contender is left out (see {@link availableContenders}).
 * @internal
 */
import { createRequire } from 'node:module'
import { runContender } from './fanout/measure.js'
import type { Plan } from './fanout/measure.js'
import { CONTENDERS } from './fanout/server.js'
import type { ContenderName } from './fanout/server.js'
import type { RunResult } from './harness.js'

export type { Plan as FanoutOptions } from './fanout/measure.js'
export { CONTENDERS as FANOUT_CONTENDERS } from './fanout/server.js'

/** The contenders this installation can run, and why any is missing. */
export function availableContenders (): { names: ContenderName[], missing: string[] } {
  const require = createRequire(import.meta.url)
  const names: ContenderName[] = []
  const missing: string[] = []
  for (const name of CONTENDERS) {
    if (name === 'socket.io') {
      try {
        require.resolve('socket.io')
      } catch {
        missing.push('socket.io (not installed: it is a development dependency; `npm install socket.io` to compare with it)')
        continue
      }
    }
    names.push(name)
  }
  return { names, missing }
}

/** Runs one contender once (in the child process). */
export const contenders: Record<string, (o: Plan) => Promise<RunResult>> = Object.fromEntries(
  CONTENDERS.map((name) => [name, (plan: Plan) => runContender(name, plan)]),
)
