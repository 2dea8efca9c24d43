/**
 * `stagewire bench pipeline`, runnable alone from the sources or the build: the same code as the CLI
 * (lib/cli/bench.ts, scenario in lib/bench/pipeline.ts), with the same flags.
 *
 *   node --import tsx benchmarks/pipeline.bench.ts [options]      (stagewire bench --help lists them)
 */
import { benchCommand } from '../lib/cli/bench.js'

process.exitCode = await benchCommand(['pipeline', ...process.argv.slice(2)])
