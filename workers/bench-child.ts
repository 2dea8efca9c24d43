/**
 * Entry point of one benchmark run: `node bench-child.js --scenario S --child CONTENDER --options JSON`,
 * started by the harness (lib/bench/harness.ts) in a fresh process for every run. It runs the
 * contender once and prints one line `RESULT {json}` (the harness adds the process's CPU time and
 * peak RSS), then exits 0. When the run throws (or an exception or rejection goes uncaught), it
 * prints one line `ERROR {json}` on stdout, for the parent to report on one line, and the stack on
 * stderr (shown by the parent for an unexpected error, not for a stagewire error such as an invalid
 * spec, whose message says it all), and exits 1.
 */
import { writeSync } from 'node:fs'
import { childArgs, errorLine, resultLine } from '../lib/bench/harness.js'
import { isScenario, loadContenders } from '../lib/bench/scenarios.js'
import { StagewireError } from '../lib/errors.js'

function fail (err: unknown): never {
  const known = err instanceof StagewireError
  // Synchronous writes: the process exits right after (a failed write must not throw again).
  try {
    writeSync(1, errorLine(err, known))
    writeSync(2, `${err instanceof Error ? (known ? `${err.name}: ${err.message}` : err.stack ?? err.message) : String(err)}\n`)
  } catch {
    // nothing more to say: exit 1 says the run failed
  }
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
let result
try {
  result = await run(child.options as never)
} catch (err) {
  fail(err)
}
process.stdout.write(resultLine(result), () => process.exit(0))
