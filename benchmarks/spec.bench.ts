/**
 * `stagewire bench spec FILE`, runnable alone from the sources or the build: the same code as the
 * CLI (lib/cli/bench.ts, scenario in lib/bench/spec.ts), with the same flags.
 *
 *   node --import tsx benchmarks/spec.bench.ts tree.json [--replay FILE --key FIELD] [options]
 */
import { benchCommand } from '../lib/cli/bench.js'

process.exitCode = await benchCommand(['spec', ...process.argv.slice(2)])
