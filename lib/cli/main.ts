#!/usr/bin/env node
/**
 * The `stagewire` command. The only part of the package that writes to the terminal.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { packageRoot } from './package-root.js'
import { runTree } from './run-tree.js'

const USAGE = `usage: stagewire <command> [options]

commands:
  demo                 run the example supervision tree (examples/tree.json): a clock,
                       a flaky actor that crashes every 3 s (throw, exit, hang in turn)
                       and is restarted by its supervisor, and a dynamic supervisor
  start --spec FILE    run any supervision tree from a JSON spec file until Ctrl-C

options:
  --spec FILE          the tree spec (start)
  --duration S         stop gracefully after S seconds (default: run until Ctrl-C)
  --json               print a JSON summary on the last line of stdout
  -h, --help           this text
  -v, --version        the version
`

async function main (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        spec: { type: 'string' },
        duration: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    })
  } catch (err) {
    process.stderr.write(`stagewire: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.version) {
    const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string }
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  const [command, ...rest] = positionals
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE)
    return command === undefined && !values.help ? 2 : 0
  }
  if (rest.length > 0) {
    process.stderr.write(`stagewire: unexpected argument ${JSON.stringify(rest[0])}\n\n${USAGE}`)
    return 2
  }
  let duration: number | undefined
  if (values.duration !== undefined) {
    duration = Number(values.duration)
    // Node's timers stop at 2^31 - 1 ms; a longer one would fire at once.
    if (!Number.isFinite(duration) || duration <= 0 || duration > (2 ** 31 - 1) / 1000) {
      process.stderr.write(`stagewire: --duration must be a number of seconds from 0 to 2147483, got ${JSON.stringify(values.duration)}\n`)
      return 2
    }
  }
  switch (command) {
    case 'demo':
      return runTree(`${packageRoot()}/examples/tree.json`, {
        duration,
        json: values.json,
        banner: 'stagewire demo: the example supervision tree (examples/tree.json). The pipeline demo of the\n' +
          'channels issue replaces this; for now watch "flaky" crash every 3 s and be restarted while\n' +
          '"clock" keeps ticking on its own thread. Ctrl-C stops it gracefully.',
      })
    case 'start':
      if (values.spec === undefined) {
        process.stderr.write('stagewire: start needs --spec FILE\n')
        return 2
      }
      return runTree(values.spec, { duration, json: values.json })
    default:
      process.stderr.write(`stagewire: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 2
  }
}

process.exitCode = await main(process.argv.slice(2))
