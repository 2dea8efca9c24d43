/**
 * `stagewire bench <scenario> [options]`: flags → the scenario's options, then its contenders run
 * in fresh processes, alternating round by round (lib/bench/harness.ts), a progress bar on stderr
 * while it runs on a terminal (a line per run otherwise), a table at the end (stdout) and, with
 * `--json`, one JSON object on stdout's last line. Exit code: 0; 1 when a run failed or its counts
 * do not add up; 2 for bad flags (an unusable --profile folder included). A failure is one line on
 * stderr (a contender's stack follows only for an unexpected error) and, with `--json`, the JSON
 * line is `{ scenario, exitCode, error: { message, code, contender } }`.
 *
 * benchmarks/<scenario>.bench.ts run this same code (`benchCommand([scenario, ...argv])`).
 */
import { existsSync, readdirSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ContenderError, alternate, rate, runChild } from '../bench/harness.js'
import type { ChildSettings, RunResult, Summary } from '../bench/harness.js'
import { E2E_CONTENDERS, GENSTAGE } from '../bench/e2e.js'
import type { E2eOptions } from '../bench/e2e.js'
import { availableContenders } from '../bench/fanout.js'
import type { FanoutOptions } from '../bench/fanout.js'
import { SPARE_FDS, openFileLimit, placement } from '../bench/fanout/affinity.js'
import { targets as fanoutTargets, tableLines as fanoutTables, ratios as fanoutRatios } from '../bench/fanout/report.js'
import type { SizeResult } from '../bench/fanout/report.js'
import { isContender } from '../bench/fanout/server.js'
import { PIPELINE_BASELINE, PIPELINE_CONTENDERS } from '../bench/pipeline.js'
import type { PipelineOptions } from '../bench/pipeline.js'
import { PUSH_BASELINE, PUSH_CONTENDERS } from '../bench/push.js'
import type { PushOptions } from '../bench/push.js'
import { SCENARIOS, isScenario } from '../bench/scenarios.js'
import type { ScenarioName } from '../bench/scenarios.js'
import { ProfileDirError, makeProfileDir, removeCreated } from '../bench/profile-dir.js'
import { SPEC_CONTENDERS, generatedSecrets } from '../bench/spec.js'
import type { SpecOptions } from '../bench/spec.js'

export const BENCH_USAGE = `usage: stagewire bench <scenario> [options]

Measures stagewire against what users would pick instead. Every contender runs in a fresh process,
contenders alternate round by round (A B A B), and each figure is the median of the rounds with
its spread: compare ratios measured in one run, not absolute figures across machines.

scenarios:
  pipeline             producer → producer_consumer → consumer, 100-byte events: stagewire in three
                       threads and fused in one, against a batched postMessage chain and a plain
                       function pipeline (events/s at the last stage)
  push                 cost of runtime.push() on the caller's thread (ns per call, flush included),
                       against appending to an array
  fanout               one broadcast to --clients clients of one topic: stagewire's endpoint against
                       socket.io rooms and a plain loop over ws sockets
  e2e                  Real-Time Phoenix's pipeline: push at --rate over --topics user topics, a
                       limited-concurrency stage (maxDemand 10) and the broadcaster to --clients
                       clients; delivered/s, push-to-receipt latency, highest rate under --slo-ms
  spec FILE            your own tree under a generated or replayed feed: per-stage throughput,
                       buffer depth, demand and latency

every scenario:
  --rounds N           measured rounds per contender (default 3)
  --seconds S          measured window of a round (default 3)
  --warmup S           warm-up before the window (default 1; fanout: isolated broadcasts, default 5)
  --json               one JSON object on the last line of stdout; when the bench fails (exit 1
                       or 2) it is {"scenario", "exitCode", "error": {"message", "code", "contender"}}
  --profile [DIR]      write a .cpuprofile of every thread of every run under DIR
                       (default ./stagewire-profiles/<scenario>-<time>) and print where; DIR is
                       created before the first run (a folder that cannot be made is a bad flag)
pipeline:  --max-demand N (1000)  --codec shape|msgpack|clone (shape)
push:      --batch N pushes per tick (1000)  --codec
fanout:    --clients N[,N...] (1000,10000)  --contenders stagewire,socket.io,plain-ws
           --paced N (50)  --interval MS (100)  --isolated N (30)  --gap MS (20)  --window N (4)
           --concurrency N (200)
e2e:       --rate N events/s (100000)  --topics N (1000)  --clients N (1000)  --max-demand N (10)
           --no-sockets (deliver to in-process subscribers)  --slo-ms MS (50)
           --search-steps N probes of the highest rate under the SLO (6; 0: no search,
           and "search": null in the JSON)  --search-seconds S per probe (2)
spec FILE: --replay FILE --key FIELD [--time FIELD] (default: the built-in market-data feed)
           --rate N|max (max; with --replay: max|recorded)  --keys N (20)
           --producer ID (the tree's first producer)
           an endpoint whose secretEnv variable (e.g. STAGEWIRE_SECRET) is not set gets a random
           secret for the runs: no client of the bench needs to know it

exit code: 0; 1 when a run failed or a count does not add up; 2 for bad flags. A failure is one line
on stderr (a contender's stack follows only for an unexpected error, not for an invalid spec)
`

const CHILD = new URL(`../../workers/bench-child.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href

/** A target of the issue, judged on this run. */
interface Target { target: string, measured: string, met: boolean }

/** What events went in and came out of one contender's runs, added up. */
interface Counts { in: number, out: number, balanced: boolean }

/** What a scenario produced, before printing. */
interface Outcome {
  options: object
  /** The unit of the main figure and whether higher is better. */
  unit: string
  higherIsBetter: boolean
  summaries: Summary[]
  baseline: string | undefined
  /** Extra figures worth a column: key, title. */
  columns: Array<[string, string]>
  counts: Record<string, Counts>
  targets: Target[]
  notes: string[]
  /** Scenario-specific parts of the JSON. */
  more?: Record<string, unknown>
  /** Fan-out prints its own tables. */
  print?: () => void
}

class FlagError extends Error {}

const COMMON = {
  rounds: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  json: { type: 'boolean' },
  profile: { type: 'boolean' },
  'max-demand': { type: 'string' },
  codec: { type: 'string' },
  batch: { type: 'string' },
  clients: { type: 'string' },
  contenders: { type: 'string' },
  paced: { type: 'string' },
  interval: { type: 'string' },
  isolated: { type: 'string' },
  gap: { type: 'string' },
  window: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  topics: { type: 'string' },
  'no-sockets': { type: 'boolean' },
  'slo-ms': { type: 'string' },
  'search-steps': { type: 'string' },
  'search-seconds': { type: 'string' },
  replay: { type: 'string' },
  key: { type: 'string' },
  time: { type: 'string' },
  keys: { type: 'string' },
  producer: { type: 'string' },
} as const

type Flag = keyof typeof COMMON
const EVERY: Flag[] = ['rounds', 'seconds', 'warmup', 'json', 'profile']
const FLAGS: Record<ScenarioName, Flag[]> = {
  pipeline: [...EVERY, 'max-demand', 'codec'],
  push: [...EVERY, 'batch', 'codec'],
  fanout: [...EVERY, 'clients', 'contenders', 'paced', 'interval', 'isolated', 'gap', 'window', 'concurrency'],
  e2e: [...EVERY, 'rate', 'topics', 'clients', 'max-demand', 'no-sockets', 'slo-ms', 'search-steps', 'search-seconds'],
  spec: [...EVERY, 'replay', 'key', 'time', 'rate', 'keys', 'producer'],
}

type Values = Partial<Record<Flag, string | boolean>>

/** An integer flag within [min, max]; `unit` (events/s, milliseconds...) goes into the message. */
function int (values: Values, flag: Flag, fallback: number, min: number, max: number, unit = ''): number {
  const raw = values[flag]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min || n > max) {
    throw new FlagError(`--${flag} must be an integer from ${min} to ${max}${unit === '' ? '' : ` ${unit}`}, got ${JSON.stringify(raw)}`)
  }
  return n
}

/** A number of `unit` in (0, max] (or [0, max] with `zero`). */
function number (values: Values, flag: Flag, fallback: number, max: number, unit: 'seconds' | 'milliseconds', zero = false): number {
  const raw = values[flag]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n > max || (zero ? n < 0 : n <= 0)) {
    throw new FlagError(`--${flag} must be a number of ${unit} ${zero ? 'from 0' : 'above 0'} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return n
}

/** A number of seconds in (0, max] (or [0, max] with `zero`). */
function seconds (values: Values, flag: Flag, fallback: number, max: number, zero = false): number {
  return number(values, flag, fallback, max, 'seconds', zero)
}

function codec (values: Values): string {
  const raw = values.codec ?? 'shape'
  if (raw !== 'shape' && raw !== 'msgpack' && raw !== 'clone') throw new FlagError(`--codec must be one of shape|msgpack|clone, got ${JSON.stringify(raw)}`)
  return raw
}

/** Parses `argv` (after `bench`); a string is the error to print. */
export function parseBenchArgs (argv: string[]): { scenario: ScenarioName, file: string | undefined, values: Values, profileDir: string | undefined } | string {
  // `--profile` takes an optional folder: take it out before parseArgs (which has no optional values).
  const args = [...argv]
  let profileDir: string | undefined
  const p = args.indexOf('--profile')
  if (p >= 0) {
    const next = args[p + 1]
    if (next !== undefined && !next.startsWith('-') && p + 1 !== 1) {
      profileDir = resolve(next)
      args.splice(p + 1, 1)
    }
  }
  let parsed
  try {
    parsed = parseArgs({ args, strict: true, allowPositionals: true, options: COMMON })
  } catch (err) {
    return (err as Error).message
  }
  const [scenario, file, ...extra] = parsed.positionals
  if (scenario === undefined) return `needs a scenario: one of ${SCENARIOS.join(', ')}`
  if (!isScenario(scenario)) return `unknown scenario ${JSON.stringify(scenario)}: one of ${SCENARIOS.join(', ')}`
  if (scenario === 'spec' && file === undefined) return 'spec needs the tree\'s spec FILE: stagewire bench spec tree.json'
  const unexpected = scenario === 'spec' ? extra : [file, ...extra].filter((x) => x !== undefined)
  if (unexpected.length > 0) return `unexpected argument ${JSON.stringify(unexpected[0])}`
  const values = parsed.values as Values
  for (const flag of Object.keys(values) as Flag[]) {
    if (!FLAGS[scenario].includes(flag)) return `--${flag} is not an option of bench ${scenario} (stagewire bench --help)`
  }
  if (values.profile === true && profileDir === undefined) {
    profileDir = resolve('stagewire-profiles', `${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  }
  return { scenario, file, values, profileDir }
}

/** Progress: a bar on a terminal, a line per run otherwise (stderr). */
function progress (label: string): (done: number, total: number, name: string) => void {
  const t0 = performance.now()
  const tty = process.stderr.isTTY === true
  return (done, total, name) => {
    const elapsed = ((performance.now() - t0) / 1000).toFixed(0)
    if (tty) {
      const width = 30
      const filled = Math.round((done / total) * width)
      process.stderr.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed} s ${name}`)
      if (done === total) process.stderr.write('\r\x1b[2K')
    } else if (name !== '') {
      process.stderr.write(`${label}: run ${done + 1}/${total}, ${name} (${elapsed} s)\n`)
    }
  }
}

/** Sums `in` and `out` over every run of every contender. */
function countRuns (summaries: Summary[], inKey: string, outKey: (r: RunResult) => number): Record<string, Counts> {
  const out: Record<string, Counts> = {}
  for (const s of summaries) {
    const i = s.runs.reduce((a, r) => a + (r.extra?.[inKey] ?? 0), 0)
    const o = s.runs.reduce((a, r) => a + outKey(r), 0)
    out[s.name] = { in: i, out: o, balanced: i === o }
  }
  return out
}

const fig = (s: Summary | undefined, key: string): number => s?.extra[key] ?? Number.NaN

async function pipelineScenario (values: Values, rounds: number, settings: ChildSettings): Promise<Outcome> {
  const options: PipelineOptions = {
    maxDemand: int(values, 'max-demand', 1000, 1, 1_000_000, 'events'),
    seconds: seconds(values, 'seconds', 3, 3600),
    warmup: seconds(values, 'warmup', 1, 3600, true),
    codec: codec(values),
  }
  const summaries = await alternate(CHILD, [...PIPELINE_CONTENDERS], options, rounds, progress('pipeline'), undefined, settings)
  const by = (n: string): Summary | undefined => summaries.find((s) => s.name === n)
  const chain = by(PIPELINE_BASELINE)?.median ?? Number.NaN
  const threads = by('stagewire-threads')?.median ?? Number.NaN
  const fused = by('stagewire-fused')?.median ?? Number.NaN
  const targets: Target[] = options.maxDemand === 1000
    ? [
        { target: 'three threads, maxDemand 1000: at least 3 M events/s', measured: rate(threads), met: threads >= 3e6 },
        { target: 'three threads: at least 3x the plain postMessage chain in the same run', measured: `${(threads / chain).toFixed(2)}x`, met: threads / chain >= 3 },
        { target: 'fused in one thread, maxDemand 1000: at least 20 M events/s', measured: rate(fused), met: fused >= 20e6 },
      ]
    : options.maxDemand === 10
      ? [{ target: 'fused in one thread, maxDemand 10: at least GenStage\'s 1.29 M events/s', measured: rate(fused), met: fused >= 1.29e6 }]
      : []
  return {
    options,
    unit: 'events/s',
    higherIsBetter: true,
    summaries,
    baseline: PIPELINE_BASELINE,
    columns: [],
    counts: countRuns(summaries, 'produced', (r) => r.extra?.consumed ?? 0),
    targets,
    notes: [`producer → producer_consumer → consumer, 100-byte events, maxDemand ${options.maxDemand}, codec ${options.codec}; events/s at the last stage`],
  }
}

async function pushScenario (values: Values, rounds: number, settings: ChildSettings): Promise<Outcome> {
  const options: PushOptions = {
    batch: int(values, 'batch', 1000, 1, 1_000_000, 'pushes per tick'),
    seconds: seconds(values, 'seconds', 3, 3600),
    warmup: seconds(values, 'warmup', 1, 3600, true),
    codec: codec(values),
  }
  const summaries = await alternate(CHILD, [...PUSH_CONTENDERS], options, rounds, progress('push'), undefined, settings)
  const ns = summaries.find((s) => s.name === 'stagewire-push')?.median ?? Number.NaN
  return {
    options,
    unit: 'ns/push',
    higherIsBetter: false,
    summaries,
    baseline: PUSH_BASELINE,
    columns: [['reached_per_s', 'reaching the producer']],
    counts: countRuns(summaries, 'pushed', (r) => r.extra?.consumed ?? 0),
    targets: [{ target: 'push: under 150 ns per call amortised on the caller\'s thread', measured: `${ns.toFixed(0)} ns`, met: ns < 150 }],
    notes: [`ns per push() on the caller's thread, the per-tick flush included; ${options.batch} pushes per tick, codec ${options.codec}`],
  }
}

async function fanoutScenario (values: Values, rounds: number, settings: ChildSettings): Promise<Outcome> {
  const rawClients = typeof values.clients === 'string' ? values.clients : '1000,10000'
  const sizes = rawClients.split(',').map((c) => {
    const n = Number(c.trim())
    if (!/^\d+$/.test(c.trim()) || n < 1 || n > 100_000) throw new FlagError(`--clients must be integers from 1 to 100000, separated by commas, got ${JSON.stringify(rawClients)}`)
    return n
  })
  const available = availableContenders()
  let names = available.names as string[]
  if (typeof values.contenders === 'string') {
    names = values.contenders.split(',').map((c) => c.trim())
    for (const name of names) {
      if (!isContender(name)) throw new FlagError(`--contenders: unknown contender ${JSON.stringify(name)} (known: stagewire, socket.io, plain-ws), got ${JSON.stringify(values.contenders)}`)
      if (!(available.names as string[]).includes(name)) throw new FlagError(`--contenders: ${name} cannot run here: ${available.missing.join('; ')}`)
    }
  }
  const where = placement()
  const plan: Omit<FanoutOptions, 'clients'> = {
    paced: int(values, 'paced', 50, 2, 100_000, 'broadcasts'),
    intervalMs: int(values, 'interval', 100, 1, 60_000, 'milliseconds'),
    isolated: int(values, 'isolated', 30, 1, 100_000, 'broadcasts'),
    gapMs: int(values, 'gap', 20, 0, 60_000, 'milliseconds'),
    warmup: int(values, 'warmup', 5, 0, 100_000, 'isolated broadcasts (fanout\'s warm-up is a count)'),
    seconds: int(values, 'seconds', 3, 1, 3600, 'seconds'),
    window: int(values, 'window', 4, 1, 1000, 'broadcasts in flight'),
    concurrency: int(values, 'concurrency', 200, 1, 10_000, 'clients joining at once'),
    pin: where.pin,
  }
  const limit = openFileLimit()
  const largest = Math.max(...sizes)
  if (largest + SPARE_FDS > limit) {
    throw new FlagError(`--clients ${largest} needs about ${largest + SPARE_FDS} open files in each process; the limit here is ${limit} ` +
      '(raise the hard limit, e.g. `ulimit -Hn 65536` as root, or run fewer clients)')
  }
  const loadAtStart = loadavg()[0] as number
  const results: SizeResult[] = []
  for (const clients of sizes) {
    // A run at 10,000 clients takes 30-60 s, more on a loaded machine.
    const summaries = await alternate(CHILD, names, { ...plan, clients } satisfies FanoutOptions, rounds, progress(`fanout ${clients} clients`), 300_000, settings)
    results.push({ clients, summaries })
  }
  const info = { date: new Date().toISOString(), node: process.version, cores: availableParallelism(), placement: where.note, load: [loadAtStart, loadavg()[0] as number] as [number, number], rounds, plan }
  const largestResult = results.reduce((a, b) => (b.clients > a.clients ? b : a))
  const counts: Record<string, Counts> = {}
  for (const size of results) {
    for (const s of size.summaries) {
      const expected = s.runs.reduce((a, r) => a + (r.extra?.broadcasts ?? 0) * size.clients, 0)
      const missing = s.runs.reduce((a, r) => a + (r.extra?.missing ?? 0), 0)
      const duplicates = s.runs.reduce((a, r) => a + (r.extra?.duplicates ?? 0), 0)
      counts[`${s.name}@${size.clients}`] = { in: expected, out: expected - missing + duplicates, balanced: missing === 0 && duplicates === 0 }
    }
  }
  return {
    options: { ...plan, clients: sizes },
    unit: 'deliveries/s',
    higherIsBetter: true,
    summaries: largestResult.summaries,
    baseline: names.includes('plain-ws') ? 'plain-ws' : undefined,
    columns: [],
    counts,
    targets: fanoutTargets(results),
    notes: [`one broadcast to every client of one topic, ${sizes.join(' and ')} clients`, ...available.missing.map((m) => `left out: ${m}`)],
    more: { sizes: results.map((size) => ({ clients: size.clients, contenders: size.summaries, ratios: fanoutRatios(size) })), placement: where.note },
    print: () => { for (const line of fanoutTables(results, info)) console.log(line) },
  }
}

interface Probe { rate: number, delivered_per_s: number, p99_ms: number, holds: boolean, why: string }

/** Whether a run at `rate` kept up and held p99 under the SLO. */
function holds (run: RunResult, rate: number, perEvent: number, sloMs: number): { holds: boolean, why: string } {
  const e = run.extra ?? {}
  const p99 = e.latency_p99_ms ?? Number.NaN
  if ((e.dropped ?? 0) + (e.lost ?? 0) > 0) return { holds: false, why: `${(e.dropped ?? 0) + (e.lost ?? 0)} events dropped or lost` }
  if ((e.missing ?? 0) > 0) return { holds: false, why: `${e.missing} deliveries missing` }
  const refused = (e.refused ?? 0) > 0 ? `, push() said false ${e.refused} times` : ''
  const pushed = e.pushed_per_s ?? 0
  if (pushed < 0.95 * rate || run.value < 0.95 * rate * perEvent) {
    return { holds: false, why: `fell behind: ${rate.toFixed(0)}/s asked, ${pushed.toFixed(0)}/s pushed, ${(run.value / perEvent).toFixed(0)} events/s delivered${refused}` }
  }
  if (!(p99 <= sloMs)) return { holds: false, why: `p99 ${p99.toFixed(2)} ms${refused}` }
  return { holds: true, why: `p99 ${p99.toFixed(2)} ms${refused}` }
}

async function e2eScenario (values: Values, rounds: number, settings: ChildSettings): Promise<Outcome> {
  const sockets = values['no-sockets'] !== true
  const options: E2eOptions = {
    rate: int(values, 'rate', 100_000, 1, 10_000_000, 'events/s'),
    topics: int(values, 'topics', 1000, 1, 1_000_000, 'topics'),
    clients: int(values, 'clients', 1000, 1, sockets ? 10_000 : 1_000_000, sockets ? 'clients' : 'subscribers'),
    maxDemand: int(values, 'max-demand', 10, 1, 1_000_000, 'events'),
    sockets,
    seconds: seconds(values, 'seconds', 3, 3600),
    warmup: seconds(values, 'warmup', 1, 3600, true),
  }
  const sloMs = number(values, 'slo-ms', 50, 3_600_000, 'milliseconds')
  const steps = int(values, 'search-steps', 6, 0, 30, 'probes')
  const probeSeconds = seconds(values, 'search-seconds', 2, 3600)
  const summaries = await alternate(CHILD, [...E2E_CONTENDERS], options, rounds, progress('e2e'), 300_000, settings)
  const perEvent = options.clients / options.topics
  // The search: from --rate, double while it holds (or halve while it does not), then bisect.
  const probes: Probe[] = []
  const atRate = summaries.find((s) => s.name === 'stagewire-rate')
  const first = atRate?.runs[Math.floor((atRate.runs.length - 1) / 2)]
  let lo = 0
  let hi = Number.POSITIVE_INFINITY
  if (first !== undefined) {
    if (holds(first, options.rate, perEvent, sloMs).holds) lo = options.rate
    else hi = options.rate
  }
  const tell = progress('e2e search')
  for (let k = 0; k < steps; k++) { // --search-steps 0: no search
    const r = Math.round(hi === Number.POSITIVE_INFINITY ? lo * 2 : lo === 0 ? hi / 2 : (lo + hi) / 2)
    if (r <= lo || r >= hi || r < 1) break
    tell(k, steps, `${r} events/s`)
    const run = await runChild(CHILD, 'stagewire-rate', { ...options, rate: r, seconds: probeSeconds, warmup: Math.min(options.warmup, 0.5) }, { ...settings, timeoutMs: 300_000, runLabel: `search-${r}` })
    const verdict = holds(run, r, perEvent, sloMs)
    probes.push({ rate: r, delivered_per_s: run.value, p99_ms: run.extra?.latency_p99_ms ?? Number.NaN, ...verdict })
    if (verdict.holds) lo = r
    else hi = r
  }
  if (steps > 0) tell(steps, steps, '')
  const max = summaries.find((s) => s.name === 'stagewire-max')
  const sustained = max?.median ?? Number.NaN
  const p99 = fig(atRate, 'latency_p99_ms')
  const targets: Target[] = []
  if (!sockets && perEvent === 1) {
    targets.push({ target: `without sockets: at least 350,000 events/s sustained (2x GenStage's ${GENSTAGE.sustained / 1000} k)`, measured: `${rate(sustained)} = ${(sustained / GENSTAGE.sustained).toFixed(2)}x GenStage`, met: sustained >= 350_000 })
    if (options.rate === 100_000) targets.push({ target: `without sockets: p99 under GenStage's ${GENSTAGE.p99At100k} ms at 100,000 events/s`, measured: `${p99.toFixed(3)} ms`, met: p99 < GENSTAGE.p99At100k })
  }
  return {
    options: { ...options, sloMs, searchSteps: steps, searchSeconds: probeSeconds },
    unit: 'deliveries/s',
    higherIsBetter: true,
    summaries,
    baseline: undefined,
    columns: [['pushed_per_s', 'pushed/s'], ['latency_p50_ms', 'p50 ms'], ['latency_p90_ms', 'p90 ms'], ['latency_p99_ms', 'p99 ms'], ['latency_p999_ms', 'p99.9 ms']],
    counts: e2eCounts(summaries),
    targets,
    notes: [
      `${sockets ? `${options.clients} Phoenix V2 clients (raw ws) in a process of their own` : `${options.clients} in-process subscribers`} on ${options.topics} topics ` +
        `(${perEvent.toFixed(2)} deliveries per event); consumer_supervisor at maxDemand ${options.maxDemand}, tasks in its thread`,
      'stagewire-rate pushes at --rate; stagewire-max as fast as the pipeline takes (closed loop)',
      `latency over the window, push → receipt on one clock, timed ${sockets ? 'in the clients\' process' : 'by each subscriber'}`,
      ...(steps === 0
        ? []
        : [
            `highest rate holding p99 under ${sloMs} ms (and keeping up): ${lo === 0 ? 'none of the rates tried' : `${lo} events/s`}${hi !== Number.POSITIVE_INFINITY ? ` (${hi} did not hold)` : ' (the search stopped before it failed)'}`,
            ...probes.map((p) => `  probe ${p.rate}/s: ${p.holds ? 'holds' : 'fails'}, ${p.why}`),
          ]),
    ],
    // --search-steps 0: no search, and `search: null` in the JSON.
    more: { search: steps === 0 ? null : { sloMs, maxRateUnderSlo: lo, failedAt: hi === Number.POSITIVE_INFINITY ? null : hi, probes }, genstage: GENSTAGE },
  }
}

/**
 * Events: pushed = reached the last stage + dropped + lost. Deliveries, over the runs that dropped
 * and lost nothing: expected (from what was pushed and who subscribed) = delivered.
 */
function e2eCounts (summaries: Summary[]): Record<string, Counts> {
  const out: Record<string, Counts> = {}
  const sum = (runs: RunResult[], key: string): number => runs.reduce((a, r) => a + (r.extra?.[key] ?? 0), 0)
  for (const s of summaries) {
    const events = sum(s.runs, 'pushed')
    const accounted = sum(s.runs, 'reached_last') + sum(s.runs, 'dropped') + sum(s.runs, 'lost')
    out[`${s.name} events`] = { in: events, out: accounted, balanced: events === accounted }
    const clean = s.runs.filter((r) => (r.extra?.dropped ?? 0) + (r.extra?.lost ?? 0) === 0)
    if (clean.length > 0) {
      const expected = sum(clean, 'expected')
      const delivered = sum(clean, 'delivered')
      out[`${s.name} deliveries`] = { in: expected, out: delivered, balanced: expected === delivered }
    }
  }
  return out
}

async function specScenario (file: string, values: Values, rounds: number, settings: ChildSettings): Promise<Outcome> {
  const spec = resolve(file)
  if (!existsSync(spec)) throw new FlagError(`spec FILE: no such file ${JSON.stringify(file)}`)
  if ((values.replay === undefined) !== (values.key === undefined)) throw new FlagError('--replay FILE and --key FIELD go together')
  if (values.time !== undefined && values.replay === undefined) throw new FlagError('--time is for --replay')
  if (typeof values.replay === 'string' && !existsSync(values.replay)) throw new FlagError(`--replay: no such file ${JSON.stringify(values.replay)}`)
  const rawRate = values.rate ?? 'max'
  if (typeof values.replay === 'string' && rawRate !== 'max' && rawRate !== 'recorded') {
    throw new FlagError(`--rate with --replay must be max or recorded (the recording's own pace), got ${JSON.stringify(rawRate)}`)
  }
  if (values.replay === undefined && rawRate === 'recorded') throw new FlagError('--rate recorded is for --replay')
  const options: SpecOptions = {
    spec,
    rate: rawRate === 'max' || rawRate === 'recorded' ? rawRate : int(values, 'rate', 1000, 1, 10_000_000, 'events/s (or max)'),
    keys: int(values, 'keys', 20, 1, 10_000, 'keys'),
    seconds: seconds(values, 'seconds', 3, 3600),
    warmup: seconds(values, 'warmup', 1, 3600, true),
    ...(typeof values.producer === 'string' ? { producer: values.producer } : {}),
    ...(typeof values.replay === 'string' ? { replay: { file: resolve(values.replay), key: values.key as string, ...(typeof values.time === 'string' ? { time: values.time } : {}) } } : {}),
  }
  // An endpoint's secretEnv that is not set: a random secret for the runs (no client of the bench needs it).
  const secrets = generatedSecrets(spec)
  const generated = Object.keys(secrets)
  const summaries = await alternate(CHILD, [...SPEC_CONTENDERS], options, rounds, progress('spec'), 300_000, { ...settings, env: { ...settings.env, ...secrets } })
  const counts = countRuns(summaries, 'pushed', (r) => r.extra?.received_by_producer ?? 0)
  const stages = new Set<string>()
  for (const s of summaries) for (const key of Object.keys(s.extra)) if (key.startsWith('stage.')) stages.add(key.split('.')[1] as string)
  return {
    options,
    unit: 'pushed/s',
    higherIsBetter: true,
    summaries,
    baseline: undefined,
    columns: [],
    counts,
    targets: [],
    notes: [
      `${relative(process.cwd(), spec)} fed by ${options.replay !== undefined ? `a replay of ${options.replay.file}` : `the built-in feed (${options.keys} keys)`} at ${options.rate === 'max' ? 'the fastest rate the tree takes' : options.rate === 'recorded' ? 'the recorded pace' : `${options.rate} events/s`}`,
      ...(generated.length > 0 ? [`${generated.join(', ')} not set: the runs used a random secret`] : []),
    ],
    more: { stages: [...stages] },
    print: () => printStages(summaries, [...stages]),
  }
}

function printStages (summaries: Summary[], stages: string[]): void {
  const s = summaries[0]
  if (s === undefined) return
  console.log(`pushed ${rate(s.median)} (${rate(s.min)} – ${rate(s.max)}), median of ${s.rounds.length} rounds`)
  const cols: Array<[string, string]> = [['handled_per_s', 'handled/s'], ['buffered_mean', 'buffer mean'], ['buffered_max', 'buffer max'], ['demand_mean', 'demand mean'], ['queued_max', 'queued max'], ['latency_p50_ms', 'p50 ms'], ['latency_p99_ms', 'p99 ms'], ['dropped', 'dropped'], ['lost', 'lost']]
  const widths = [Math.max(8, ...stages.map((x) => x.length)), ...cols.map(([, t]) => Math.max(10, t.length))]
  console.log(row(['stage', ...cols.map(([, t]) => t)], widths))
  for (const id of stages) console.log(row([id, ...cols.map(([k]) => k === 'handled_per_s' ? rate(fig(s, `stage.${id}.${k}`)) : num(fig(s, `stage.${id}.${k}`)))], widths))
}

function row (cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 10) : c.padStart(widths[i] ?? 10))).join('  ')
}

function num (v: number): string {
  if (!Number.isFinite(v)) return '—'
  if (Number.isInteger(v)) return String(v)
  if (Math.abs(v) >= 100) return v.toFixed(0)
  if (Math.abs(v) >= 10) return v.toFixed(1)
  if (Math.abs(v) >= 0.1) return v.toFixed(2)
  return v.toFixed(3)
}

function figure (v: number, unit: string): string {
  return unit.endsWith('/s') ? rate(v) : num(v)
}

function printOutcome (scenario: string, o: Outcome, machine: Machine): void {
  if (scenario !== 'fanout') { // fan-out's tables have their own header
    console.log(`stagewire bench ${scenario}: ${o.notes[0] ?? ''}`)
    console.log(`machine: ${machine.cores} cores (${machine.cpu}), node ${machine.node}, ${machine.date}, load average ${machine.load[0].toFixed(2)} at start, ${machine.load[1].toFixed(2)} at end; median of ${o.summaries[0]?.rounds.length ?? 0} rounds, contenders alternating`)
  }
  if (o.print !== undefined) o.print()
  else {
    const base = o.summaries.find((s) => s.name === o.baseline)
    const heads = ['contender', `median ${o.unit}`, 'min', 'max', ...(base !== undefined ? [`vs ${base.name}`] : []), ...o.columns.map(([, t]) => t), 'CPU cores', 'peak RSS MiB', 'heap MiB (max thread)']
    const widths = [20, ...heads.slice(1).map((h) => Math.max(10, h.length))]
    console.log('')
    console.log(row(heads, widths))
    for (const s of o.summaries) {
      const heaps = Object.entries(s.extra).filter(([k]) => k.startsWith('heap_mib_')).map(([, v]) => v)
      console.log(row([
        s.name, figure(s.median, o.unit), figure(s.min, o.unit), figure(s.max, o.unit),
        ...(base !== undefined ? [`${(s.median / base.median).toFixed(2)}x`] : []),
        ...o.columns.map(([k]) => k.endsWith('_per_s') ? rate(fig(s, k)) : num(fig(s, k))),
        num(fig(s, 'cpu_cores')), num(fig(s, 'peak_rss_mib')), heaps.length > 0 ? num(Math.max(...heaps)) : '—',
      ], widths))
    }
  }
  for (const note of o.notes.slice(1)) console.log(note)
  console.log('counts (every run added up):')
  for (const [name, c] of Object.entries(o.counts)) console.log(`  ${name}: ${c.in} in, ${c.out} out${c.balanced ? '' : `  DO NOT ADD UP (${c.in - c.out})`}`)
  if (o.targets.length > 0) {
    console.log('targets:')
    for (const t of o.targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${t.measured}`)
  }
}

interface Machine { date: string, node: string, cores: number, cpu: string, load: [number, number] }

/** How a failed bench ends: one line on stderr and, with --json, a JSON object on stdout's last line. */
function failure (json: boolean, scenario: string | null, exitCode: 1 | 2, message: string, more: { code?: string | undefined, contender?: string, detail?: string } = {}): 1 | 2 {
  // End a progress bar left on the terminal's last line.
  if (process.stderr.isTTY === true) process.stderr.write('\r\x1b[2K')
  process.stderr.write(`stagewire bench${scenario !== null && exitCode === 1 ? ` ${scenario}` : ''}: ${message}\n`)
  if (more.detail !== undefined && more.detail !== '') process.stderr.write(`${more.detail.replace(/^/gm, '  ')}\n`)
  if (json) {
    const error = { message, code: more.code ?? null, contender: more.contender ?? null }
    process.stdout.write(`${JSON.stringify({ scenario, exitCode, error })}\n`)
  }
  return exitCode
}

/** `stagewire bench ...`; returns the exit code. */
export async function benchCommand (argv: string[]): Promise<number> {
  const parsed = parseBenchArgs(argv)
  if (typeof parsed === 'string') {
    const scenario = argv.find((a) => !a.startsWith('-'))
    return failure(argv.includes('--json'), scenario !== undefined && isScenario(scenario) ? scenario : null, 2, parsed)
  }
  const { scenario, file, values, profileDir } = parsed
  const json = values.json === true
  // The profile folder, before anything runs: an unusable one is a bad flag.
  let createdDirs: string[] = []
  if (profileDir !== undefined) {
    try {
      createdDirs = makeProfileDir(profileDir)
    } catch (err) {
      if (!(err instanceof ProfileDirError)) throw err
      return failure(json, scenario, 2, `--profile ${profileDir}: ${err.message}`)
    }
  }
  const loadAtStart = loadavg()[0] as number
  let outcome: Outcome
  try {
    const rounds = int(values, 'rounds', 3, 1, 1000, 'rounds')
    const settings: ChildSettings = { args: ['--scenario', scenario], ...(profileDir !== undefined ? { profileDir } : {}) }
    switch (scenario) {
      case 'pipeline': outcome = await pipelineScenario(values, rounds, settings); break
      case 'push': outcome = await pushScenario(values, rounds, settings); break
      case 'fanout': outcome = await fanoutScenario(values, rounds, settings); break
      case 'e2e': outcome = await e2eScenario(values, rounds, settings); break
      case 'spec': outcome = await specScenario(file as string, values, rounds, settings); break
      default: throw new Error(`unknown scenario ${JSON.stringify(scenario as unknown)}`)
    }
  } catch (err) {
    if (err instanceof FlagError) {
      removeCreated(createdDirs) // nothing ran: leave no empty profile folder behind
      return failure(json, scenario, 2, err.message)
    }
    if (err instanceof ContenderError) {
      return failure(json, scenario, 1, err.message, { code: err.code, contender: err.contender, ...(err.known ? {} : { detail: err.detail }) })
    }
    const e = err as Error
    const code = (e as { code?: unknown }).code
    return failure(json, scenario, 1, `${e.name}: ${e.message}`, { code: typeof code === 'string' ? code : undefined, detail: e.stack?.split('\n').slice(1).join('\n') ?? '' })
  }
  const machine: Machine = { date: new Date().toISOString(), node: process.version, cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', load: [loadAtStart, loadavg()[0] as number] }
  printOutcome(scenario, outcome, machine)
  let profiles: { dir: string, files: number } | undefined
  if (profileDir !== undefined) {
    const files = existsSync(profileDir) ? readdirSync(profileDir, { recursive: true }).filter((f) => String(f).endsWith('.cpuprofile')).length : 0
    profiles = { dir: profileDir, files }
    process.stderr.write(`CPU profiles: ${files} files under ${profileDir} (one folder per run, one file per thread; open them in Chrome DevTools → Performance)\n`)
  }
  if (values.json === true) {
    const base = outcome.summaries.find((s) => s.name === outcome.baseline)
    const json = {
      scenario,
      options: outcome.options,
      machine,
      unit: outcome.unit,
      higherIsBetter: outcome.higherIsBetter,
      baseline: outcome.baseline ?? null,
      contenders: outcome.summaries.map((s) => ({ name: s.name, median: s.median, min: s.min, max: s.max, rounds: s.rounds, figures: s.extra, runs: s.runs })),
      ratios: base === undefined ? {} : Object.fromEntries(outcome.summaries.map((s) => [s.name, s.median / base.median])),
      counts: outcome.counts,
      targets: outcome.targets,
      notes: outcome.notes,
      ...(outcome.more ?? {}),
      ...(profiles !== undefined ? { profiles } : {}),
    }
    process.stdout.write(`${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`)
  }
  return Object.values(outcome.counts).every((c) => c.balanced) ? 0 : 1
}
