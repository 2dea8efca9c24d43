/**
 * `stagewire bench fanout`, runnable alone from the sources or the build: the same code as the CLI
 * (lib/cli/bench.ts, scenario in lib/bench/fanout.ts), with the same flags.
 *
 *   node --import tsx benchmarks/fanout.bench.ts [options]      (stagewire bench --help lists them)
 */
import { benchCommand } from '../lib/cli/bench.js'

process.exitCode = await benchCommand(['fanout', ...process.argv.slice(2)])
