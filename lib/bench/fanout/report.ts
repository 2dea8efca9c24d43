/**
 * `stagewire bench fanout`'s tables: one per client count, the ratios stagewire / plain ws and
 * stagewire / socket.io measured in the same run, and the fan-out issue's targets judged on them
 * ({@link targets}), as lines: lib/cli/bench.ts prints them, the counts and the targets after
 * them, and builds the JSON, as for every scenario.
 * @internal
 */
import type { Summary } from '../harness.js'
import type { Plan } from './measure.js'

/** Every contender's rounds at one client count. */
export interface SizeResult {
  clients: number
  summaries: Summary[]
}

/** What the run was, for the header and the JSON. */
export interface RunInfo {
  date: string
  node: string
  cores: number
  placement: string
  /** 1-minute load average when the run started and when it ended: these machines are shared. */
  load: [number, number]
  rounds: number
  plan: Omit<Plan, 'clients'>
}

/** One target of the issue, judged. */
export interface Target {
  target: string
  measured: string
  met: boolean
}

/** The figures of the two tables, with their column titles; lower is better for all but deliveries/s. */
const LATENCY = [
  ['paced_last_p50_ms', 'last p50'],
  ['paced_last_p99_ms', 'last p99'],
  ['paced_due_last_p50_ms', 'due p50'],
  ['paced_due_last_p99_ms', 'due p99'],
  ['paced_first_p50_ms', 'first p50'],
  ['iso_last_p50_ms', 'iso p50'],
  ['iso_last_p99_ms', 'iso p99'],
  ['iso_first_p50_ms', 'iso first'],
  ['paced_loop_delay_max_ms', 'loop block'],
] as const
const COST = [
  ['deliveries_per_s', 'deliv/s'],
  ['cpu_us_per_delivery', 'CPU µs/deliv'],
  ['iso_cpu_us_per_delivery', 'iso CPU µs'],
  ['server_cores', 'server cores'],
  ['swarm_cores', 'client cores'],
  ['rss_kib_per_conn', 'RSS KiB/conn'],
  ['heap_kib_per_conn', 'heap KiB/conn'],
] as const
const FIGURES = [...LATENCY, ...COST]

const BASELINES = ['plain-ws', 'socket.io'] as const
const TARGET_LATENCY_RATIO = 1.2
const TARGET_RSS_KIB = 8

function fig (s: Summary | undefined, key: string): number {
  return s?.extra[key] ?? Number.NaN
}

function fmt (value: number, key = ''): string {
  if (!Number.isFinite(value)) return '—'
  if (key === 'deliveries_per_s') return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M/s` : `${(value / 1e3).toFixed(1)} k/s`
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** Total over the rounds of a count the median would hide. */
function total (s: Summary, key: string): number {
  return s.runs.reduce((sum, r) => sum + (r.extra?.[key] ?? 0), 0)
}

/** stagewire's figure divided by each baseline's, figure by figure. */
export function ratios (size: SizeResult): Record<string, Record<string, number>> {
  const sw = size.summaries.find((s) => s.name === 'stagewire')
  const out: Record<string, Record<string, number>> = {}
  for (const base of BASELINES) {
    const b = size.summaries.find((s) => s.name === base)
    if (sw === undefined || b === undefined) continue
    out[`stagewire/${base}`] = Object.fromEntries(FIGURES.map(([key]) => [key, fig(sw, key) / fig(b, key)]))
  }
  return out
}

/** The targets, judged at the largest client count measured. */
export function targets (sizes: SizeResult[]): Target[] {
  const size = sizes.reduce<SizeResult | undefined>((big, s) => (big === undefined || s.clients > big.clients ? s : big), undefined)
  if (size === undefined) return []
  const sw = size.summaries.find((s) => s.name === 'stagewire')
  const plain = size.summaries.find((s) => s.name === 'plain-ws')
  const n = size.clients.toLocaleString('en-US')
  const out: Target[] = []
  if (sw !== undefined && plain !== undefined) {
    for (const [key, what] of [['paced_last_p50_ms', 'paced p50'], ['paced_last_p99_ms', 'paced p99'], ['iso_last_p50_ms', 'isolated p50'], ['iso_last_p99_ms', 'isolated p99']] as const) {
      const r = fig(sw, key) / fig(plain, key)
      out.push({
        target: `to the last of ${n} clients within ${TARGET_LATENCY_RATIO}x of the plain loop (${what})`,
        measured: `${fmt(fig(sw, key))} ms vs ${fmt(fig(plain, key))} ms = ${r.toFixed(2)}x`,
        met: r <= TARGET_LATENCY_RATIO,
      })
    }
    const r = fig(sw, 'cpu_us_per_delivery') / fig(plain, 'cpu_us_per_delivery')
    const iso = fig(sw, 'iso_cpu_us_per_delivery') / fig(plain, 'iso_cpu_us_per_delivery')
    out.push({
      target: `server CPU per delivery below the plain loop's (${n} clients, sustained)`,
      measured: `${fmt(fig(sw, 'cpu_us_per_delivery'))} µs vs ${fmt(fig(plain, 'cpu_us_per_delivery'))} µs = ${r.toFixed(2)}x ` +
        `(${fmt(fig(sw, 'frames_per_write'))} frames per write; isolated broadcasts, nothing to coalesce: ` +
        `${fmt(fig(sw, 'iso_cpu_us_per_delivery'))} vs ${fmt(fig(plain, 'iso_cpu_us_per_delivery'))} µs = ${iso.toFixed(2)}x)`,
      met: r < 1,
    })
  }
  if (sw !== undefined) {
    const rss = fig(sw, 'rss_kib_per_conn')
    out.push({ target: `at most ${TARGET_RSS_KIB} KiB RSS per joined connection (${n} clients)`, measured: `${fmt(rss)} KiB`, met: rss <= TARGET_RSS_KIB })
  }
  return out
}

function row (cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')
}

function table (out: string[], size: SizeResult, columns: ReadonlyArray<readonly [string, string]>, last: [string, (s: Summary) => string] | null): void {
  const widths = [22, ...columns.map(([key, label]) => Math.max(label.length, key === 'deliveries_per_s' ? 10 : 7)), ...(last === null ? [] : [Math.max(7, last[0].length)])]
  out.push(row(['', ...columns.map(([, label]) => label), ...(last === null ? [] : [last[0]])], widths))
  for (const s of size.summaries) {
    out.push(row([s.name, ...columns.map(([key]) => fmt(fig(s, key), key)), ...(last === null ? [] : [last[1](s)])], widths))
  }
  for (const [pair, values] of Object.entries(ratios(size))) {
    out.push(row([pair, ...columns.map(([key]) => `${fmt(values[key] as number)}x`)], widths))
  }
}

/** The human tables, line by line, for lib/cli/bench.ts to print (the counts and the targets come after). */
export function tableLines (sizes: SizeResult[], info: RunInfo): string[] {
  const out: string[] = []
  const p = info.plan
  out.push(`fan-out: one topic, 200-byte payload; ${p.paced} broadcasts ${p.intervalMs} ms apart (paced), ${p.isolated} isolated, ` +
    `${p.seconds} s sustained (${p.window} broadcasts in flight); median of ${info.rounds} rounds, contenders alternating`)
  out.push(`machine: ${info.cores} cores, node ${info.node}, ${info.date}, load average ${info.load[0].toFixed(2)} at start, ${info.load[1].toFixed(2)} at end; ${info.placement}`)
  out.push('ms from the broadcast call to the last/first client; "due" = from the time a paced broadcast was due (a busy loop calls late);')
  out.push('"iso" = isolated broadcasts; "loop block" = longest event-loop delay while paced; CPU is the server process\'s own (sustained, and isolated)')
  for (const size of sizes) {
    out.push(`\n${size.clients.toLocaleString('en-US')} clients`)
    table(out, size, LATENCY, ['calls/s', (s) => fmt(fig(s, 'paced_rate'))])
    out.push('')
    table(out, size, COST, ['missing', (s) => String(total(s, 'missing'))])
    for (const s of size.summaries) {
      const notes: string[] = [`deliveries/s ${fmt(s.min, 'deliveries_per_s')} – ${fmt(s.max, 'deliveries_per_s')} over the rounds`, `connect ${fmt(fig(s, 'connect_s'))} s`]
      const rate = fig(s, 'paced_rate')
      if (rate < 0.9 * (1000 / p.intervalMs)) notes.push(`OVERLOADED when paced: ${fmt(rate)} broadcast calls/s instead of ${fmt(1000 / p.intervalMs)}`)
      if (fig(s, 'swarm_cores') > 0.9) notes.push('sustained rate bounded by the clients (their core is busy)')
      if (Number.isFinite(fig(s, 'frames_per_write'))) notes.push(`${fmt(fig(s, 'frames_per_write'))} frames per socket write when sustained`)
      if (total(s, 'duplicates') > 0) notes.push(`${total(s, 'duplicates')} DUPLICATE deliveries`)
      if (total(s, 'server_drops') > 0) notes.push(`${total(s, 'server_drops')} frames dropped by the server`)
      if (total(s, 'clients_closed') > 0) notes.push(`${total(s, 'clients_closed')} clients closed by the server`)
      out.push(`  ${s.name}: ${notes.join('; ')}`)
    }
  }
  return out
}
