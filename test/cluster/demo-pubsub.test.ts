// `stagewire demo --pubsub` run twice (two processes, two ports, one Redis, a channel prefix of the
// demo's own): the clients of each server receive the events pushed on the other (counted apart as
// remote_delivered), and each server's own accounting still balances: pushed = broadcast + dropped
// + lost, expected deliveries = delivered + not broadcast + dropped at socket + missing, nothing
// misrouted or duplicated, and every publish of one server received by the other.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { DemoSummary } from '../../lib/demo/run.js'
import { REDIS_URL, missingRedis } from './support.js'

const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url))

function demo (args: string[]): Promise<{ code: number | null, summary: DemoSummary, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '{}'
      resolve({ code, summary: JSON.parse(last) as DemoSummary, stderr: err })
    })
  })
}

const why = await missingRedis()
if (why !== undefined) {
  if (process.env.CI !== undefined && process.env.CI !== '') t.fail(why)
  else t.plan(0, `skipped: ${why}`)
} else {
  t.test('two demo processes with --pubsub: each server\'s clients get the other\'s events, and each server\'s accounting holds', async (t) => {
    // The same seed: the same feed keys, so each server's clients join topics the other pushes to.
    const args = ['--pubsub', REDIS_URL, '--port', '0', '--duration', '4', '--clients', '6', '--rate', '400', '--json']
    const [a, b] = await Promise.all([demo(args), demo(args)])
    for (const [name, run] of [['A', a], ['B', b]] as const) {
      const s = run.summary
      t.equal(run.code, 0, `${name}: exit code 0${run.code === 0 ? '' : `: ${run.stderr}`}`)
      t.ok(s.pushed > 0, `${name} pushed ${s.pushed}`)
      t.equal(s.pushed, s.broadcast + s.dropped + s.lost, `${name}: pushed = broadcast + dropped + lost`)
      t.equal(s.unaccounted, 0)
      t.equal(s.expected_deliveries, s.delivered + s.not_broadcast + s.dropped_at_socket + s.missing, `${name}: expected = delivered + not broadcast + dropped at socket + missing`)
      t.equal(s.missing, 0, `${name}: nothing missing`)
      t.equal(s.misrouted, 0)
      t.equal(s.duplicates, 0, `${name}: no duplicate (ids carry their origin)`)
      t.ok(s.remote_delivered > 0, `${name}'s clients received events pushed on the other server (${s.remote_delivered})`)
      t.match(s.pubsub, { dropped: 0, missed: 0 })
      t.equal(s.queue_shared, false)
    }
    // What one server published while the other listened arrived there (both ran ~4 s side by side).
    t.ok((a.summary.pubsub?.received ?? 0) > 0 && (b.summary.pubsub?.received ?? 0) > 0, 'each received the other\'s broadcasts')
  })

  t.test('--queue and --pubsub flags are checked', async (t) => {
    const { parseDemoArgs } = await import('../../lib/cli/demo.js')
    t.match(parseDemoArgs(['--queue', 'redis://x/s']), /--queue must be redis-streams:\/\/HOST:PORT\/STREAM\?group=GROUP/)
    t.match(parseDemoArgs(['--pubsub', 'http://x']), /--pubsub must be a redis:\/\/ URL/)
    const ok = parseDemoArgs(['--queue', 'redis-streams://127.0.0.1:6379/feed?group=servers', '--pubsub', 'redis://127.0.0.1:6379'])
    t.match(ok, { options: { queue: { url: 'redis://127.0.0.1:6379', stream: 'feed', group: 'servers' }, pubsub: 'redis://127.0.0.1:6379' } })
    t.match(parseDemoArgs(['--queue', 'redis-streams://127.0.0.1:6379/feed']), { options: { queue: { group: 'stagewire-demo' } } })
  })
}
