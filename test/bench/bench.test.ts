// `stagewire bench <scenario> --json` as a user runs it, each scenario in a tiny configuration
// (fractions of a second per run): the JSON's shape, and that the counts add up (events in =
// events out, deliveries expected = delivered). The figures themselves are not judged here:
// speed goals live in the benchmarks (benchmarks/RESULTS.md), not in timed tests.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'

const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url))
const TREE = fileURLToPath(new URL('./fixtures/tree.json', import.meta.url))
const TINY = ['--rounds', '1', '--seconds', '0.3', '--warmup', '0.1', '--json']

interface Contender { name: string, median: number, min: number, max: number, rounds: number[], figures: Record<string, number>, runs: unknown[] }
interface BenchJson {
  scenario: string
  options: Record<string, unknown>
  machine: { node: string, cores: number, load: number[], date: string }
  unit: string
  contenders: Contender[]
  ratios: Record<string, number>
  counts: Record<string, { in: number, out: number, balanced: boolean }>
  targets: Array<{ target: string, measured: string, met: boolean }>
  profiles?: { dir: string, files: number }
}

function cli (args: string[], timeoutMs = 45_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`stagewire bench ${args.join(' ')} took over ${timeoutMs} ms:\n${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** Runs a scenario, checks the common shape and the counts; returns the JSON. */
async function bench (t: Test, args: string[], contenders: string[]): Promise<BenchJson> {
  const { code, stdout, stderr } = await cli([args[0] as string, ...TINY, ...args.slice(1)]) // the scenario's own flags win
  t.equal(code, 0, stderr)
  const lines = stdout.trim().split('\n')
  const json = JSON.parse(lines[lines.length - 1] as string) as BenchJson
  t.equal(json.scenario, args[0])
  t.match(json.machine, { node: process.version, cores: Number, load: Array, date: String })
  t.type(json.unit, 'string')
  t.same(json.contenders.map((c) => c.name), contenders, 'every contender, in the order they alternated')
  for (const c of json.contenders) {
    t.equal(c.rounds.length, 1, `${c.name}: one round`)
    t.ok(c.median > 0 && c.min <= c.median && c.median <= c.max, `${c.name}: median ${c.median} within its spread`)
    t.ok(c.figures.cpu_cores > 0, `${c.name}: CPU measured`)
    t.ok(c.figures.peak_rss_mib > 10, `${c.name}: peak RSS measured`)
  }
  t.ok(Object.keys(json.counts).length > 0, 'counts reported')
  for (const [name, c] of Object.entries(json.counts)) {
    t.ok(c.in > 0, `${name}: something went in`)
    t.equal(c.out, c.in, `${name}: ${c.in} in, ${c.out} out`)
    t.equal(c.balanced, true)
  }
  t.type(json.targets, Array)
  t.match(stdout, /counts \(every run added up\)/, 'the human table came first')
  return json
}

t.test('pipeline: four contenders, ratios against the postMessage chain, its targets judged', async (t) => {
  const json = await bench(t, ['pipeline', '--max-demand', '1000'], ['stagewire-threads', 'stagewire-fused', 'postmessage-chain', 'function-pipeline'])
  t.equal(json.ratios['postmessage-chain'], 1)
  t.equal(json.targets.length, 3)
  t.ok(json.contenders[0]?.figures.heap_mib_main !== undefined, 'heap of the main thread (the others report theirs every second)')
})

t.test('push: ns per push against an array, every pushed event consumed', async (t) => {
  const json = await bench(t, ['push', '--batch', '200'], ['stagewire-push', 'array-push'])
  t.equal(json.unit, 'ns/push')
  t.ok((json.contenders[0]?.figures.reached_per_s ?? 0) > 0)
})

t.test('fanout: a handful of clients, every delivery accounted', async (t) => {
  const json = await bench(t, ['fanout', '--clients', '8', '--contenders', 'stagewire,plain-ws', '--paced', '2', '--interval', '20', '--isolated', '1', '--gap', '0', '--seconds', '1', '--warmup', '0'], ['stagewire', 'plain-ws'])
  t.ok(json.ratios.stagewire !== undefined)
  t.ok(json.targets.length > 0, 'the fan-out goals judged')
})

t.test('e2e --no-sockets: in-process subscribers, the search and the GenStage targets', async (t) => {
  const json = await bench(t, ['e2e', '--no-sockets', '--rate', '2000', '--topics', '10', '--clients', '20', '--search-steps', '1', '--search-seconds', '0.3'], ['stagewire-rate', 'stagewire-max'])
  const search = (json as unknown as { search: { maxRateUnderSlo: number, probes: unknown[] } }).search
  t.equal(search.probes.length, 1)
  t.type(search.maxRateUnderSlo, 'number')
  t.ok((json.contenders[0]?.figures.latency_p99_ms ?? 0) > 0, 'push → receipt latency measured')
  t.ok(json.counts['stagewire-rate deliveries'] !== undefined, 'deliveries checked (2 per event)')
})

t.test('e2e with sockets: Phoenix clients in their own process', async (t) => {
  const json = await bench(t, ['e2e', '--rate', '500', '--topics', '5', '--clients', '5', '--search-steps', '0'], ['stagewire-rate', 'stagewire-max'])
  t.equal(json.options.sockets, true)
  t.ok((json.contenders[0]?.figures.latency_p50_ms ?? 0) > 0)
})

t.test('spec FILE: a user tree, per-stage figures, and --profile writes a profile per thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const json = await bench(t, ['spec', TREE, '--rate', '5000', '--profile', dir], ['stagewire'])
  const figures = json.contenders[0]?.figures ?? {}
  for (const stage of ['source', 'double', 'sink']) {
    t.ok((figures[`stage.${stage}.handled_per_s`] ?? 0) > 0, `${stage}: throughput`)
    t.type(figures[`stage.${stage}.latency_p99_ms`], 'number', `${stage}: latency`)
  }
  t.equal(json.profiles?.dir, dir)
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.cpuprofile'))
  t.ok(files.length >= 3, `main + the "work" thread + the producer's: ${files.length} profiles`)
  t.equal(json.profiles?.files, files.length)
  t.ok(existsSync(join(dir, 'stagewire-r1')), 'one folder per run')
})

t.test('bad flags exit 2 naming the flag and the value', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['pipeline', '--max-demand', 'lots'], /--max-demand must be an integer from 1 to 1000000, got "lots"/],
    [['e2e', '--slo-ms', 'soon'], /--slo-ms must be a number .*, got "soon"/],
    [['e2e', '--rate', '0'], /--rate must be an integer from 1 to 10000000, got "0"/],
    [['push', '--codec', 'json'], /--codec must be one of shape\|msgpack\|clone, got "json"/],
    [['push', '--topics', '3'], /--topics is not an option of bench push/],
    [['fanout', '--clients', '10,x'], /--clients must be integers .*, got "10,x"/],
    [['spec'], /spec needs the tree's spec FILE/],
    [['spec', TREE, '--replay', 'x.ndjson'], /--replay FILE and --key FIELD go together/],
    [['spec', TREE, '--replay', TREE, '--key', 'id', '--rate', '500'], /--rate with --replay must be max or recorded .*, got "500"/],
    [['warp'], /unknown scenario "warp"/],
    [['pipeline', '--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, message] of cases) {
    const { code, stderr } = await cli(args, 10_000)
    t.equal(code, 2, `${args.join(' ')}: exit 2`)
    t.match(stderr, message, args.join(' '))
  }
})
