// The `stagewire` command as a user runs it: a child process, its exit code, stdout and stderr.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url))
const EXAMPLE_TREE = fileURLToPath(new URL('../../examples/tree.json', import.meta.url))

function cli (args: string[], timeoutMs = 60_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`stagewire ${args.join(' ')} took over ${timeoutMs} ms:\n${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('demo --json: the summary is one JSON object on the last line of stdout, the live output on stderr', async (t) => {
  const { code, stdout, stderr } = await cli(['demo', '--port', '0', '--clients', '3', '--duration', '2', '--rate', '500', '--json'])
  t.equal(code, 0, stderr)
  const lines = stdout.trim().split('\n')
  t.equal(lines.length, 1, 'stdout holds the JSON only')
  const summary = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>
  for (const field of ['pushed', 'expected_deliveries', 'delivered', 'lost', 'misrouted', 'dropped', 'restarts', 'events_per_s']) {
    t.type(summary[field], 'number', `${field} is a number`)
  }
  t.match(summary.latency_ms, { p50: Number, p90: Number, p99: Number, max: Number })
  t.ok((summary.pushed as number) > 0)
  t.equal(summary.delivered, summary.expected_deliveries)
  t.match(stderr, /deliveries expected/, 'the summary table went to stderr')
  t.match(stderr, /watch it in a browser: http:\/\/127\.0\.0\.1:\d+\//)
})

t.test('demo: bad flags exit 2 naming the flag and the value', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--clients', 'many'], /--clients must be an integer from 1 to 10000, got "many"/],
    [['--speed', '0'], /--speed must be a positive number or "max", got "0"/],
    [['--replay', 'x.ndjson'], /--replay needs --key FIELD/],
    [['--key', 'repo_name'], /--key and --time go with --replay FILE/],
    [['--port', '-1'], /--port|argument/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, message] of cases) {
    const { code, stderr } = await cli(['demo', ...args])
    t.equal(code, 2, `demo ${args.join(' ')} exits 2`)
    t.match(stderr, message)
  }
})

t.test('demo: a recording that is missing or not a file is a bad flag (exit 2); a corrupt one names the file (exit 1)', async (t) => {
  const missing = await cli(['demo', '--port', '0', '--replay', '/nonexistent/rec.ndjson', '--key', 'k'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--replay "\/nonexistent\/rec\.ndjson": no such file/)
  const dir = await cli(['demo', '--port', '0', '--replay', tmpdir(), '--key', 'k'])
  t.equal(dir.code, 2)
  t.match(dir.stderr, /is not a file/)
  // gzip magic bytes, then nothing: a truncated gzip.
  const file = join(mkdtempSync(join(tmpdir(), 'stagewire-cli-')), 'truncated.ndjson.gz')
  writeFileSync(file, gzipSync('{"k":"a","time":1}\n').subarray(0, 12))
  t.teardown(() => rmSync(dirname(file), { recursive: true, force: true }))
  const truncated = await cli(['demo', '--port', '0', '--replay', file, '--key', 'k'])
  t.equal(truncated.code, 1)
  t.match(truncated.stderr, file)
})

t.test('start --spec runs any tree until --duration', async (t) => {
  const { code, stdout, stderr } = await cli(['start', '--spec', EXAMPLE_TREE, '--duration', '1', '--json'])
  t.equal(code, 0, stderr)
  t.match(JSON.parse(stdout.trim().split('\n').pop() as string), { restarts: Number, fatal: null })
  const missing = await cli(['start'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /needs --spec FILE/)
})

t.test('help and version', async (t) => {
  const help = await cli(['demo', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /--replay FILE/)
  const version = await cli(['--version'])
  t.match(version.stdout, /^\d+\.\d+\.\d+/)
  const unknown = await cli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command "frobnicate"/)
})
