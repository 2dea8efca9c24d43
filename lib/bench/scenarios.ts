/**
 * The scenarios of `stagewire bench`, by name: what the child process (workers/bench-child.ts)
 * loads to run one contender. Each is imported only when it runs.
 * @internal
 */
import type { RunResult } from './harness.js'

/** The scenarios, in the order the CLI lists them. */
export const SCENARIOS = ['pipeline', 'push', 'fanout', 'e2e', 'spec'] as const
export type ScenarioName = typeof SCENARIOS[number]

/** Whether `name` is a scenario. */
export function isScenario (name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name)
}

/** The contenders of scenario `name`: each runs once with the options it is given. */
export async function loadContenders (name: ScenarioName): Promise<Record<string, (options: never) => Promise<RunResult>>> {
  switch (name) {
    case 'pipeline': return (await import('./pipeline.js')).contenders
    case 'push': return (await import('./push.js')).contenders
    case 'fanout': return (await import('./fanout.js')).contenders
    case 'e2e': return (await import('./e2e.js')).contenders
    case 'spec': return (await import('./spec.js')).contenders
    default: throw new Error(`unknown scenario ${JSON.stringify(name as unknown)}`)
  }
}
