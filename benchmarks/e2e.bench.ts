/**
 * `stagewire bench e2e`, runnable alone from the sources or the build: the same code as the CLI
 * (lib/cli/bench.ts, scenario in lib/bench/e2e.ts), with the same flags.
 *
 *   node --import tsx benchmarks/e2e.bench.ts [--no-sockets] [--rate 100000] [options]
 */
import { benchCommand } from '../lib/cli/bench.js'

process.exitCode = await benchCommand(['e2e', ...process.argv.slice(2)])
