/**
 * Entry point of one benchmark run: `node bench-child.js --scenario S --child CONTENDER --options JSON`,
 * started by the harness (lib/bench/harness.ts) in a fresh process for every run. It runs the
 * contender once and prints one line `RESULT {json}` (the harness adds the process's CPU time and
 * peak RSS), then exits 0. An uncaught exception or unhandled rejection is printed to stderr (the
 * parent shows its tail) and the process exits 1.
 */
import { childArgs, resultLine } from '../lib/bench/harness.js'
import { isScenario, loadContenders } from '../lib/bench/scenarios.js'

function fail (err: unknown): never {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
}
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

const argv = process.argv.slice(2)
const scenario = argv[argv.indexOf('--scenario') + 1] ?? ''
const child = childArgs(argv)
if (!argv.includes('--scenario') || !isScenario(scenario) || child === undefined) fail(new Error('usage: bench-child --scenario S --child CONTENDER --options JSON'))
const contenders = await loadContenders(scenario)
const run = contenders[child.name]
if (run === undefined) fail(new Error(`scenario ${scenario} has no contender ${JSON.stringify(child.name)}`))
const result = await run(child.options as never)
process.stdout.write(resultLine(result), () => process.exit(0))
