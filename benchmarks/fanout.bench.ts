/**
 * Fan-out: one broadcast of a 200-byte payload to every client joined to one topic, the server in
 * one process and lightweight raw-`ws` clients in another, each pinned to its own core.
 *
 *   stagewire    Endpoint + Phoenix Channels V2 clients (token, phx_join "bench:all"), endpoint.broadcast
 *   socket.io    socket.io 4 rooms, clients speaking engine.io v4 over raw ws, io.to(room).emit
 *   plain-ws     a ws server looping over its sockets with one pre-built string (the naive limit)
 *
 * Measured per contender (see fanout/measure.ts): time from the broadcast call to the last client,
 * p50/p99 of broadcasts 100 ms apart and of isolated ones; server CPU per delivery and deliveries/s
 * under sustained broadcasts; server RSS per joined connection. Each run is a fresh server process
 * with a fresh client process; contenders alternate round by round (support/harness.ts).
 *
 *   node --import tsx benchmarks/fanout.bench.ts [--clients 1000,10000] [--rounds 3] [--json]
 *     [--paced 50] [--interval 100] [--isolated 30] [--gap 20] [--warmup 5] [--seconds 3] [--window 4]
 *     [--contenders stagewire,socket.io,plain-ws] [--concurrency 200]
 */
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { SPARE_FDS, openFileLimit, placement } from './fanout/affinity.js'
import { runContender } from './fanout/measure.js'
import type { Plan } from './fanout/measure.js'
import { printTables, toJson } from './fanout/report.js'
import type { SizeResult } from './fanout/report.js'
import { CONTENDERS, isContender } from './fanout/server.js'
import { alternate, childArgs, report } from './support/harness.js'

const here = import.meta.url
// A run at 10,000 clients takes 30-60 s (socket.io's paced phase alone can take 20 s); on a loaded
// machine more, and the harness's 120 s default would kill it.
const CHILD_TIMEOUT_MS = 300_000

/** One line on stderr per run, terminal or not: a whole run of the bench takes minutes. */
function progress (clients: number): (done: number, total: number, name: string) => void {
  const t0 = performance.now()
  return (done, total, name) => {
    const elapsed = ((performance.now() - t0) / 1000).toFixed(0)
    process.stderr.write(`fanout ${clients} clients: ${done}/${total} runs done, ${elapsed} s${name === '' ? '' : `; running ${name}`}\n`)
  }
}

function positive (name: string, text: string, min = 1): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}, got ${JSON.stringify(text)}`)
  return n
}

async function main (): Promise<void> {
  const child = childArgs()
  if (child !== undefined) {
    if (!isContender(child.name)) throw new Error(`unknown contender ${JSON.stringify(child.name)}`)
    report(await runContender(child.name, child.options as Plan))
    process.exit(0)
  }
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000,10000' },
      rounds: { type: 'string', default: '3' },
      paced: { type: 'string', default: '50' },
      interval: { type: 'string', default: '100' },
      isolated: { type: 'string', default: '30' },
      gap: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '3' },
      window: { type: 'string', default: '4' },
      concurrency: { type: 'string', default: '200' },
      contenders: { type: 'string', default: CONTENDERS.join(',') },
      json: { type: 'boolean', default: false },
    },
  })
  const sizes = values.clients.split(',').map((c) => positive('clients', c.trim()))
  const names = values.contenders.split(',').map((c) => c.trim())
  for (const name of names) if (!isContender(name)) throw new Error(`--contenders: unknown contender ${JSON.stringify(name)} (known: ${CONTENDERS.join(', ')})`)
  const where = placement()
  const rounds = positive('rounds', values.rounds)
  const plan: Omit<Plan, 'clients'> = {
    paced: positive('paced', values.paced, 2),
    intervalMs: positive('interval', values.interval),
    isolated: positive('isolated', values.isolated),
    gapMs: positive('gap', values.gap, 0),
    warmup: positive('warmup', values.warmup, 0),
    seconds: positive('seconds', values.seconds),
    window: positive('window', values.window),
    concurrency: positive('concurrency', values.concurrency),
    pin: where.pin,
  }
  const limit = openFileLimit()
  const largest = Math.max(...sizes)
  if (largest + SPARE_FDS > limit) {
    throw new Error(`--clients ${largest} needs about ${largest + SPARE_FDS} open files in each process; the limit here is ${limit} ` +
      '(Node raises its soft limit to the hard one: raise the hard limit, e.g. `ulimit -Hn 65536` as root, or run fewer clients)')
  }
  const loadAtStart = loadavg()[0] as number
  const results: SizeResult[] = []
  for (const clients of sizes) {
    const summaries = await alternate(here, names, { ...plan, clients } satisfies Plan, rounds, progress(clients), CHILD_TIMEOUT_MS)
    results.push({ clients, summaries })
  }
  const info = {
    date: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    placement: where.note,
    load: [loadAtStart, loadavg()[0] as number] as [number, number],
    rounds,
    plan,
  }
  printTables(results, info)
  if (values.json) console.log(JSON.stringify(toJson(results, info)))
}

await main()
