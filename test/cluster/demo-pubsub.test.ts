// `stagewire demo --pubsub` run twice (two processes, two ports, one Redis, a channel prefix of the
// demo's own): the clients of each server receive the events pushed on the other (counted apart as
// remote_delivered), and each server's own accounting still balances: pushed = broadcast + dropped
// + lost, expected deliveries = delivered + not broadcast + dropped at socket + missing, nothing
// misrouted or duplicated, and every publish of one server received by the other.
import t from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { fileURLToPath } from 'node:url'
import type { DemoSummary } from '../../lib/demo/run.js'
import { REDIS_URL, missingRedis } from './support.js'

const MAIN = fileURLToPath(new URL('../../lib/cli/main.ts', import.meta.url))

/** A demo expected to fail before its summary: its exit code and stderr. */
function spawnDemo (args: string[]): { code: Promise<number | null>, stderr: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'demo', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code: exited, stderr: exited.then(() => err) }
}

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

  t.test('--queue: a stream holding entries the run did not push is refused; a clean one ends with nothing left in the queue', async (t) => {
    const stream = `stagewire-test-demo-${randomBytes(4).toString('hex')}`
    const redis = new Redis(REDIS_URL)
    t.teardown(async () => { await redis.del(stream); redis.disconnect() })
    const queue = (group: string): string[] => ['--queue', `${REDIS_URL.replace(/^redis:/, 'redis-streams:')}/${stream}?group=${group}`, '--port', '0', '--duration', '2', '--clients', '3', '--rate', '300', '--json']

    const clean = await demo(queue('first'))
    t.equal(clean.code, 0, `a clean stream runs${clean.code === 0 ? '' : `: ${clean.stderr}`}`)
    t.ok(clean.summary.pushed > 0)
    t.equal(clean.summary.queue_left, 0, 'every entry acknowledged')
    t.equal(clean.summary.unaccounted, 0)

    // A new group reads the stream from its beginning: the first run's entries would be broadcast again.
    const fresh = spawnDemo(queue('second'))
    t.equal(await fresh.code, 1)
    t.match(await fresh.stderr, `stream "${stream}" already holds ${clean.summary.pushed} entries, and group "second" is new: a new group reads a stream from its beginning`)
    // A group left with entries goes on with them.
    await redis.xadd(stream, '*', 'e', 'left over')
    const reused = spawnDemo(queue('first'))
    t.equal(await reused.code, 1)
    t.match(await reused.stderr, `group "first" of stream "${stream}" still owes 1 entry from an earlier run (1 unread, 0 read and not acknowledged)`)
  })

  t.test('--queue at a Redis that does not answer: the events are counted as not accepted, and the run fails', async (t) => {
    const run = await demo(['--queue', 'redis-streams://127.0.0.1:1/nowhere?group=g', '--port', '0', '--duration', '2', '--clients', '2', '--rate', '200', '--json'])
    t.equal(run.code, 1)
    t.ok(run.summary.pushed > 0)
    t.equal(run.summary.dropped_by_reason.queue_unavailable, run.summary.pushed, 'every push refused by the queue, counted')
    t.equal(run.summary.queue_left, null, 'the queue could not be asked')
    t.match(run.stderr, `FAILED: ${run.summary.pushed} events not accepted by the durable queue (Redis unreachable?)`)
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
