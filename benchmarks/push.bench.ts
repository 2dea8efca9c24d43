/**
 * `stagewire bench push`, runnable alone from the sources or the build: the same code as the CLI
 * (lib/cli/bench.ts, scenario in lib/bench/push.ts), with the same flags.
 *
 *   node --import tsx benchmarks/push.bench.ts [options]      (stagewire bench --help lists them)
 */
import { benchCommand } from '../lib/cli/bench.js'

process.exitCode = await benchCommand(['push', ...process.argv.slice(2)])
