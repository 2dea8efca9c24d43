#!/usr/bin/env node
/**
 * The `stagewire` command. The only part of the package that writes to the terminal.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { packageRoot } from './package-root.js'
import { DEMO_USAGE, demoCommand } from './demo.js'
import { runTree } from './run-tree.js'

const USAGE = `usage: stagewire <command> [options]

commands:
  demo                 the example pipeline on a feed (built-in, or --replay FILE), with
                       clients that check and time every delivery; stagewire demo --help
  start --spec FILE    run any supervision tree from a JSON spec file until Ctrl-C
  bench <scenario>     measure against the alternatives: pipeline, push, fanout, e2e,
                       spec FILE; stagewire bench --help

options of start:
  --spec FILE          the tree spec
  --duration S         stop gracefully after S seconds (default: run until Ctrl-C)
  --json               print a JSON summary on the last line of stdout

  -h, --help           this text
  -v, --version        the version
`

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === '-v' || command === '--version') {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string }
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  if (command === undefined || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(USAGE)
    return command === undefined ? 2 : 0
  }
  const wantsHelp = rest.includes('-h') || rest.includes('--help')
  switch (command) {
    case 'demo':
      if (wantsHelp) {
        process.stdout.write(DEMO_USAGE)
        return 0
      }
      return demoCommand(rest)
    case 'bench': {
      // Loaded only for this command: it brings every scenario's code with it.
      const { BENCH_USAGE, benchCommand } = await import('./bench.js')
      if (wantsHelp) {
        process.stdout.write(BENCH_USAGE)
        return 0
      }
      return benchCommand(rest)
    }
    case 'start':
      if (wantsHelp) {
        process.stdout.write(USAGE)
        return 0
      }
      return startCommand(rest)
    default:
      process.stderr.write(`stagewire: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 2
  }
}

/** `stagewire start --spec FILE [--duration S] [--json]`. */
async function startCommand (argv: string[]): Promise<number> {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        spec: { type: 'string' },
        duration: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }))
  } catch (err) {
    process.stderr.write(`stagewire start: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.spec === undefined) {
    process.stderr.write('stagewire start: needs --spec FILE\n')
    return 2
  }
  let duration: number | undefined
  if (values.duration !== undefined) {
    duration = Number(values.duration)
    // Node's timers stop at 2^31 - 1 ms; a longer one would fire at once.
    if (!Number.isFinite(duration) || duration <= 0 || duration > (2 ** 31 - 1) / 1000) {
      process.stderr.write(`stagewire start: --duration must be a number of seconds above 0, at most 2147483, got ${JSON.stringify(values.duration)}\n`)
      return 2
    }
  }
  return runTree(values.spec, { duration, json: values.json })
}

process.exitCode = await main(process.argv.slice(2))
