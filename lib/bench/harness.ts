/**
 * The benchmark harness: every contender runs in a fresh process of its
 * own, contenders alternate round by round (A B A B ...), so a drift of
 * this shared machine hits all of them alike, and figures are reported as
 * the median of the rounds with their spread. Ratios between contenders
 * measured in the same run are what a target is judged by.
 *
 * ```
 *   parent (stagewire bench, or benchmarks/X.bench.ts)
 *     alternate(entry, [A, B], options, rounds)
 *       round 1: spawn entry --child A --options JSON ──► RESULT {json}   (+ --cpu-prof with a profile dir)
 *                spawn entry --child B --options JSON ──► RESULT {json}
 *       round 2: A, B ...                               ──► Summary per contender: median, min, max
 * ```
 *
 * The child entry (workers/bench-child.ts) runs one contender once and prints one line
 * `RESULT {json}`, with the process's CPU time and peak RSS added (see {@link processFigures}), or,
 * when the run throws, one line `ERROR {json}` ({@link ChildError}) and exits 1: the parent throws
 * a {@link ContenderError} saying what failed on one line.
 * @internal
 */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What one run of one contender measured. */
export interface RunResult {
  /** Main figure (events/s, ns per push, deliveries/s...); whether higher is better is the scenario's to say. */
  value: number
  /** Other figures worth reporting (latency percentiles, CPU, memory, counts...). */
  extra?: Record<string, number>
}

/** Median and spread of a contender's rounds. */
export interface Summary {
  name: string
  median: number
  min: number
  max: number
  rounds: number[]
  /** The median of each extra figure over the rounds. */
  extra: Record<string, number>
  /** Every round's result, in order (for figures a median would hide, such as a count of failures). */
  runs: RunResult[]
}

/** How children are started. */
export interface ChildSettings {
  /** Kill a child after this long (default 120 s). */
  timeoutMs?: number
  /** Arguments put before `--child` (the child entry's own, e.g. `--scenario pipeline`). */
  args?: string[]
  /** Write each child's CPU profiles (every thread's) under this folder, one sub-folder per run. */
  profileDir?: string
  /** Environment variables set for the children (on top of this process's). */
  env?: Record<string, string>
}

/** What a child prints (`ERROR {json}`) when its run throws. */
export interface ChildError {
  name: string
  message: string
  /** A stagewire error's code (`ERR_SPEC_INVALID`...). */
  code?: string
  /** A stagewire error: the message says it all, no stack needed. */
  known: boolean
}

/** A contender's run failed; `message` is one line, `detail` the child's stderr (the stack) for an unexpected failure. */
export class ContenderError extends Error {
  readonly contender: string
  readonly code: string | undefined
  readonly known: boolean
  readonly detail: string
  constructor (contender: string, message: string, options: { code?: string | undefined, known: boolean, detail: string }) {
    super(message)
    this.name = 'ContenderError'
    this.contender = contender
    this.code = options.code
    this.known = options.known
    this.detail = options.detail
  }
}

/** The line a child prints when its run throws (see {@link ChildError}). */
export function errorLine (err: unknown, known: boolean): string {
  const e = err instanceof Error ? err : undefined
  const code = (e as { code?: unknown } | undefined)?.code
  const line: ChildError = {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(err),
    ...(typeof code === 'string' ? { code } : {}),
    known,
  }
  return `ERROR ${JSON.stringify(line)}\n`
}

/** Runs contender `name` in a child process and returns what it printed. */
export async function runChild (file: string, name: string, options: unknown, settings: ChildSettings & { runLabel?: string } = {}): Promise<RunResult> {
  const path = fileURLToPath(file)
  const profile: string[] = []
  if (settings.profileDir !== undefined) {
    const dir = join(settings.profileDir, settings.runLabel ?? name)
    mkdirSync(dir, { recursive: true })
    // Node 20 writes one .cpuprofile per thread (workers included) when the thread ends.
    profile.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
  }
  const args = [...(path.endsWith('.ts') ? ['--import', 'tsx'] : []), '--expose-gc', ...profile, path, ...(settings.args ?? []), '--child', name, '--options', JSON.stringify(options)]
  const env = settings.env !== undefined ? { ...process.env, ...settings.env } : process.env
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timeoutMs = settings.timeoutMs ?? 120_000
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
  const ended = new Promise<void>((resolve) => child.stdout.once('end', resolve))
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  // What the child wrote last may still be in the pipe; a process it started may hold the pipe open.
  let grace: NodeJS.Timeout | undefined
  await Promise.race([ended, new Promise<void>((resolve) => { grace = setTimeout(resolve, 500) })])
  clearTimeout(grace)
  const lines = out.split('\n')
  const line = lines.find((l) => l.startsWith('RESULT '))
  if (code === 0 && line !== undefined) return JSON.parse(line.slice(7)) as RunResult
  const detail = err.slice(-2000).trimEnd()
  const thrown = lines.find((l) => l.startsWith('ERROR '))
  if (thrown !== undefined) {
    const e = JSON.parse(thrown.slice(6)) as ChildError
    const message = e.known ? e.message : `${e.name}: ${e.message}`
    throw new ContenderError(name, `contender ${name} failed: ${oneLine(message)}`, { code: e.code, known: e.known, detail })
  }
  const how = timedOut
    ? `was stopped after ${timeoutMs / 1000} s (time limit)`
    : code === 0 ? 'printed no result' : `failed (${signal !== null ? `killed by ${signal}` : `exit ${String(code)}`})`
  throw new ContenderError(name, `contender ${name} ${how}`, { known: false, detail })
}

/** Newlines of a message folded, so that it prints on one line. */
function oneLine (text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' | ')
}

/**
 * Runs every contender `rounds` times, alternating, and summarises.
 * `progress` is called before each run and once at the end (name '').
 */
export async function alternate (
  file: string,
  names: string[],
  options: unknown,
  rounds: number,
  progress: (done: number, total: number, name: string) => void = () => {},
  timeoutMs?: number,
  settings: ChildSettings = {},
): Promise<Summary[]> {
  const results = new Map<string, RunResult[]>(names.map((n) => [n, []]))
  let done = 0
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      progress(done, rounds * names.length, name)
      const run = await runChild(file, name, options, { ...settings, ...(timeoutMs !== undefined ? { timeoutMs } : {}), runLabel: `${name}-r${r + 1}` })
      results.get(name)?.push(run)
      done++
    }
  }
  progress(done, rounds * names.length, '')
  return names.map((name) => summarise(name, results.get(name) ?? []))
}

/** Median, spread and the median of every extra figure of `runs`. */
export function summarise (name: string, runs: RunResult[]): Summary {
  const values = runs.map((r) => r.value)
  const extra: Record<string, number> = {}
  for (const key of new Set(runs.flatMap((r) => Object.keys(r.extra ?? {})))) {
    extra[key] = median(runs.map((r) => r.extra?.[key] ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  }
  return { name, median: median(values), min: Math.min(...values), max: Math.max(...values), rounds: values, extra, runs }
}

/** The median of a list of numbers. */
export function median (values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Parses `--child NAME --options JSON` when this process is a child. */
export function childArgs (argv = process.argv.slice(2)): { name: string, options: unknown } | undefined {
  const i = argv.indexOf('--child')
  if (i < 0) return undefined
  const j = argv.indexOf('--options')
  return { name: argv[i + 1] ?? '', options: j >= 0 ? JSON.parse(argv[j + 1] ?? '{}') : {} }
}

/**
 * What the whole child process cost, added to every result: CPU seconds (user, system), cores used
 * on average since the process started, and peak RSS (MiB; Linux's maxrss, every thread included).
 */
export function processFigures (): Record<string, number> {
  const usage = process.resourceUsage()
  const cpu = (usage.userCPUTime + usage.systemCPUTime) / 1e6
  return {
    cpu_user_s: usage.userCPUTime / 1e6,
    cpu_system_s: usage.systemCPUTime / 1e6,
    cpu_cores: cpu / process.uptime(),
    peak_rss_mib: usage.maxRSS / 1024,
  }
}

/** The line a child prints for the parent to read: its result with {@link processFigures} added. */
export function resultLine (result: RunResult): string {
  return `RESULT ${JSON.stringify({ value: result.value, extra: { ...result.extra, ...processFigures() } })}\n`
}

/** Formats a number of events per second: 1.23 M/s, 456 k/s. */
export function rate (value: number): string {
  if (!Number.isFinite(value)) return '-'
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M/s`
  if (value >= 1e3) return `${(value / 1e3).toFixed(0)} k/s`
  return `${value.toFixed(0)} /s`
}
