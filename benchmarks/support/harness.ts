/**
 * The benchmark harness: every contender runs in a fresh process of its
 * own, contenders alternate round by round (A B A B ...), so a drift of
 * this shared machine hits all of them alike, and figures are reported as
 * the median of the rounds with their spread. Ratios between contenders
 * measured in the same run are what a target is judged by.
 *
 * A scenario file is both the parent (no `--child`) and the child
 * (`--child NAME --options JSON`): the child runs one contender once and
 * prints one line `RESULT {json}`.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What one run of one contender measured. */
export interface RunResult {
  /** Main figure, higher is better (events/s, deliveries/s...). */
  value: number
  /** Other figures worth reporting (latency percentiles, CPU, memory...). */
  extra?: Record<string, number>
}

/** Median and spread of a contender's rounds. */
export interface Summary {
  name: string
  median: number
  min: number
  max: number
  rounds: number[]
  extra: Record<string, number>
  /** Every round's result, in order (for figures a median would hide, such as a count of failures). */
  runs: RunResult[]
}

/** Runs contender `name` in a child process and returns what it printed. */
export async function runChild (file: string, name: string, options: unknown, timeoutMs = 120_000): Promise<RunResult> {
  const path = fileURLToPath(file)
  const args = [...(path.endsWith('.ts') ? ['--import', 'tsx'] : []), '--expose-gc', path, '--child', name, '--options', JSON.stringify(options)]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  const line = out.split('\n').find((l) => l.startsWith('RESULT '))
  if (code !== 0 || line === undefined) throw new Error(`contender ${name} failed (exit ${String(code)}): ${err.slice(-2000)}`)
  return JSON.parse(line.slice(7)) as RunResult
}

/** Runs every contender `rounds` times, alternating, and summarises. */
export async function alternate (
  file: string,
  names: string[],
  options: unknown,
  rounds: number,
  progress: (done: number, total: number, name: string) => void = () => {},
  timeoutMs?: number,
): Promise<Summary[]> {
  const results = new Map<string, RunResult[]>(names.map((n) => [n, []]))
  let done = 0
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      progress(done, rounds * names.length, name)
      results.get(name)?.push(await runChild(file, name, options, timeoutMs))
      done++
    }
  }
  progress(done, rounds * names.length, '')
  return names.map((name) => summarise(name, results.get(name) ?? []))
}

function summarise (name: string, runs: RunResult[]): Summary {
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

/** Prints a child's result in the form the parent reads. */
export function report (result: RunResult): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
}

/** A progress line on a terminal (stderr), nothing otherwise. */
export function progressBar (label: string): (done: number, total: number, name: string) => void {
  return (done, total, name) => {
    if (process.stderr.isTTY !== true) return
    const width = 30
    const filled = Math.round((done / total) * width)
    process.stderr.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${name}`)
    if (done === total) process.stderr.write('\r\x1b[2K')
  }
}

/** Formats a number of events per second: 1.23 M/s, 456 k/s. */
export function rate (value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M/s`
  if (value >= 1e3) return `${(value / 1e3).toFixed(0)} k/s`
  return `${value.toFixed(0)} /s`
}
