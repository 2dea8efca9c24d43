// `stagewire bench <scenario> --json` as a user runs it, each scenario in a tiny configuration
// (fractions of a second per run): the JSON's shape, and that the counts add up (events in =
// events out, deliveries expected = delivered). The figures themselves are not judged here:
// speed goals live in the benchmarks (benchmarks/RESULTS.md), not in timed tests.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'

const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url))
const TREE = fileURLToPath(new URL('./fixtures/tree.json', import.meta.url))
/** A tree whose endpoint reads its secret from STAGEWIRE_BENCH_TEST_SECRET. */
const ENDPOINT_TREE = fileURLToPath(new URL('./fixtures/endpoint-tree.json', import.meta.url))
const SECRET_ENV = 'STAGEWIRE_BENCH_TEST_SECRET'
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
  notes: string[]
}

/** The JSON line of a failed bench. */
interface FailureJson { scenario: string | null, exitCode: number, error: { message: string, code: string | null, contender: string | null } }

/** `env`: variables to set, or to unset (undefined). */
function cli (args: string[], timeoutMs = 45_000, env: Record<string, string | undefined> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env }
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k]
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`stagewire bench ${args.join(' ')} took over ${timeoutMs} ms:\n${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** The last line of stdout, parsed. */
function lastJson<T> (stdout: string): T {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] as string) as T
}

/** stderr without the progress lines (`spec: run 1/1, stagewire (0 s)`). */
function withoutProgress (stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^[\w ]+: run \d+\/\d+, /.test(l))
}

/** Runs a scenario, checks the common shape and the counts; returns the JSON and the whole stdout. */
async function bench (t: Test, args: string[], contenders: string[], env: Record<string, string | undefined> = {}): Promise<{ json: BenchJson, stdout: string }> {
  const { code, stdout, stderr } = await cli([args[0] as string, ...TINY, ...args.slice(1)], 45_000, env) // the scenario's own flags win
  t.equal(code, 0, stderr)
  const json = lastJson<BenchJson>(stdout)
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
  return { json, stdout }
}

t.test('pipeline: four contenders, ratios against the postMessage chain, its targets judged', async (t) => {
  const { json } = await bench(t, ['pipeline', '--max-demand', '1000'], ['stagewire-threads', 'stagewire-fused', 'postmessage-chain', 'function-pipeline'])
  t.equal(json.ratios['postmessage-chain'], 1)
  t.equal(json.targets.length, 3)
  t.ok(json.contenders[0]?.figures.heap_mib_main !== undefined, 'heap of the main thread (the others report theirs every second)')
})

t.test('push: ns per push against an array, every pushed event consumed', async (t) => {
  const { json } = await bench(t, ['push', '--batch', '200'], ['stagewire-push', 'array-push'])
  t.equal(json.unit, 'ns/push')
  t.ok((json.contenders[0]?.figures.reached_per_s ?? 0) > 0)
})

t.test('fanout: a handful of clients, every delivery accounted', async (t) => {
  const { json, stdout } = await bench(t, ['fanout', '--clients', '8', '--contenders', 'stagewire,plain-ws', '--paced', '2', '--interval', '20', '--isolated', '1', '--gap', '0', '--seconds', '1', '--warmup', '0'], ['stagewire', 'plain-ws'])
  t.ok(json.ratios.stagewire !== undefined)
  t.ok(json.targets.length > 0, 'the fan-out targets judged')
  t.match(stdout, /\ntargets:\n {2}(met {3}|MISSED) {2}to the last of 8 clients/, 'printed under "targets", as in the README and every other scenario')
  t.notMatch(stdout, /goal/i, 'one word for them')
  t.ok(stdout.indexOf('counts (every run added up)') < stdout.indexOf('\ntargets:'), 'counts, then targets, as for every scenario')
})

t.test('e2e --no-sockets: in-process subscribers, the search and the GenStage targets', async (t) => {
  const { json, stdout } = await bench(t, ['e2e', '--no-sockets', '--rate', '2000', '--topics', '10', '--clients', '20', '--search-steps', '1', '--search-seconds', '0.3'], ['stagewire-rate', 'stagewire-max'])
  const search = (json as unknown as { search: { maxRateUnderSlo: number, probes: unknown[] } }).search
  t.equal(search.probes.length, 1)
  t.type(search.maxRateUnderSlo, 'number')
  t.match(stdout, /highest rate holding p99 under 50 ms/)
  t.ok((json.contenders[0]?.figures.latency_p99_ms ?? 0) > 0, 'push → receipt latency measured')
  t.ok(json.counts['stagewire-rate deliveries'] !== undefined, 'deliveries checked (2 per event)')
})

t.test('e2e with sockets: Phoenix clients in their own process', async (t) => {
  const { json, stdout } = await bench(t, ['e2e', '--rate', '500', '--topics', '5', '--clients', '5', '--search-steps', '0'], ['stagewire-rate', 'stagewire-max'])
  t.equal(json.options.sockets, true)
  t.equal((json as unknown as { search: unknown }).search, null, '--search-steps 0: no search, search: null')
  t.notMatch(stdout, /highest rate|probe/, 'no search reported')
  t.ok((json.contenders[0]?.figures.latency_p50_ms ?? 0) > 0)
})

t.test('spec FILE: a user tree, per-stage figures, and --profile writes a profile per thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { json } = await bench(t, ['spec', TREE, '--rate', '5000', '--profile', dir], ['stagewire'])
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

t.test('spec FILE: an endpoint whose secretEnv is not set gets a random secret for the runs', async (t) => {
  const { json } = await bench(t, ['spec', ENDPOINT_TREE, '--rate', '5000'], ['stagewire'], { [SECRET_ENV]: undefined })
  t.ok((json.contenders[0]?.figures['stage.broadcaster.handled_per_s'] ?? 0) > 0, 'the endpoint\'s tree ran')
  t.ok(json.notes.some((n) => n.includes(`${SECRET_ENV} not set: the runs used a random secret`)), 'and says so')
})

t.test('a failed run: one line on stderr, no stack for a stagewire error, exit 1; with --json an error object on the last line', async (t) => {
  // A secret that is set is the user's: kept, and here too short for the endpoint (an invalid spec).
  const args = ['spec', ENDPOINT_TREE, ...TINY, '--rate', '5000']
  const { code, stdout, stderr } = await cli(args, 45_000, { [SECRET_ENV]: 'short' })
  t.equal(code, 1, 'exit 1: a run failed')
  const lines = withoutProgress(stderr)
  t.equal(lines.length, 1, `one line on stderr: ${stderr}`)
  t.match(lines[0], /^stagewire bench spec: contender stagewire failed: invalid spec: the secret in STAGEWIRE_BENCH_TEST_SECRET must be at least 32 bytes, got 5$/)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  const json = lastJson<FailureJson>(stdout)
  t.same(json, {
    scenario: 'spec',
    exitCode: 1,
    error: { message: lines[0]?.replace('stagewire bench spec: ', ''), code: 'ERR_SPEC_INVALID', contender: 'stagewire' },
  }, 'the same failure as JSON')
  t.equal(stdout.trim().split('\n').length, 1, 'nothing else on stdout')

  const plain = await cli(args.filter((a) => a !== '--json'), 45_000, { [SECRET_ENV]: 'short' })
  t.equal(plain.code, 1)
  t.equal(plain.stdout, '', 'without --json: nothing on stdout')
  t.same(withoutProgress(plain.stderr), lines, 'the same line on stderr')
})

t.test('spec FILE: a producer nothing subscribes to is refused, not waited on for ever', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'lonely.json')
  writeFileSync(file, JSON.stringify({ children: [{ id: 'x', stage: 'producer', module: 'builtin:queue' }] }))
  const { code, stdout } = await cli(['spec', file, ...TINY], 45_000)
  t.equal(code, 1)
  t.match(lastJson<FailureJson>(stdout), { exitCode: 1, error: { code: 'ERR_SPEC_INVALID', message: `contender stagewire failed: ${file}: no stage subscribes to the producer "x": nothing would take its events` } })
})

t.test('spec FILE --replay: a recording none of whose lines is an event fails the run instead of reporting zeros', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'no-key.ndjson')
  writeFileSync(file, '{"k":"a","time":1}\n{"k":"b","time":2}\n')
  const { code, stdout } = await cli(['spec', ENDPOINT_TREE, '--replay', file, '--key', 'nosuchfield', ...TINY], 45_000)
  t.equal(code, 1)
  t.match(lastJson<FailureJson>(stdout), { exitCode: 1, error: { code: 'ERR_INVALID_ARGUMENT', message: `contender stagewire failed: --replay ${file}: no line has both a usable key "nosuchfield" and a time (field "time" or a "<unix-seconds>: " prefix): nothing was pushed` } })
})

t.test('--profile: the folder is made before any run; one that cannot be is a bad flag', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  const re = (text: string): RegExp => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm')
  const cases: Array<[string, RegExp]> = [
    [join(file, 'x'), re(`stagewire bench: --profile ${join(file, 'x')}: ${file} is not a folder`)],
    [file, re(`stagewire bench: --profile ${file}: ${file} is not a folder`)],
  ]
  // mkdirSync(..., { recursive: true }) loops forever there (cli() fails after its timeout).
  if (existsSync('/proc/self')) cases.push(['/proc/nope', /^stagewire bench: --profile \/proc\/nope: \/proc does not take new folders \(mkdir: ENOENT\)$/m])
  for (const [path, message] of cases) {
    const { code, stdout, stderr } = await cli(['pipeline', '--profile', path, ...TINY], 15_000)
    t.equal(code, 2, `${path}: exit 2`)
    t.same(withoutProgress(stderr).length, 1, `${path}: one line`)
    t.match(stderr, message, path)
    t.notMatch(stderr, /run 1\//, 'before any run')
    t.match(lastJson<FailureJson>(stdout), { scenario: 'pipeline', exitCode: 2, error: { message: stderr.trim().replace('stagewire bench: ', '') } })
  }
  // Made up front, parents included; removed again when a flag turns out bad before anything ran.
  const nested = join(dir, 'p', 'q')
  const bad = await cli(['pipeline', '--profile', nested, '--max-demand', 'lots'], 15_000)
  t.equal(bad.code, 2)
  t.notOk(existsSync(join(dir, 'p')), 'no empty profile folder left behind')
})

t.test('bad flags exit 2 naming the flag and the value', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['pipeline', '--max-demand', 'lots'], /--max-demand must be an integer from 1 to 1000000 events, got "lots"/],
    [['e2e', '--slo-ms', 'soon'], /--slo-ms must be a number of milliseconds above 0 to 3600000, got "soon"/],
    [['e2e', '--slo-ms=-1'], /--slo-ms must be a number of milliseconds above 0 to 3600000, got "-1"/],
    [['e2e', '--search-seconds', '0'], /--search-seconds must be a number of seconds above 0 to 3600, got "0"/],
    [['e2e', '--rate', '0'], /--rate must be an integer from 1 to 10000000 events\/s, got "0"/],
    [['fanout', '--interval', '0'], /--interval must be an integer from 1 to 60000 milliseconds, got "0"/],
    [['fanout', '--warmup', '0.5'], /--warmup must be an integer from 0 to 100000 isolated broadcasts/],
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
    const { code, stdout, stderr } = await cli(args, 10_000)
    t.equal(code, 2, `${args.join(' ')}: exit 2`)
    t.match(stderr, message, args.join(' '))
    t.equal(stdout, '', 'nothing on stdout without --json')
  }
  const { code, stdout, stderr } = await cli(['pipeline', '--max-demand', 'lots', '--json'], 10_000)
  t.equal(code, 2)
  t.same(lastJson<FailureJson>(stdout), { scenario: 'pipeline', exitCode: 2, error: { message: stderr.trim().replace('stagewire bench: ', ''), code: null, contender: null } }, '--json: the error as JSON')
})
