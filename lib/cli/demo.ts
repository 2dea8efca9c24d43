/**
 * `stagewire demo`: flags → DemoOptions, then a live line on stderr while it runs, a summary table
 * at the end (stderr), and with `--json` the summary as one JSON object on stdout's last line.
 * Exit code: 0, 1 when the summary shows a fault (see demoFailed), 2 for bad flags.
 */
import { statSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { describeThrown } from '../errors.js'
import { DemoRun, demoFailed } from '../demo/run.js'
import type { DemoOptions, DemoProgress, DemoSummary } from '../demo/run.js'
import type { Speed } from '../demo/feed.js'
import { packageRoot } from './package-root.js'

export const DEMO_USAGE = `usage: stagewire demo [options]

Runs the example pipeline (examples/demo/tree.json: ingest → enrich → broadcaster) on a feed,
with official Phoenix clients in a separate process checking and timing every delivery.

feed:
  --replay FILE        replay a recording: NDJSON, or "<unix-seconds>: <json>" lines; gzip or plain
  --key FIELD          the routing key field (topic feed:<value>); required with --replay
  --time FIELD         the timestamp field (default "time"; a line's "<seconds>: " prefix wins)
  --speed X|max        X times faster than recorded, or as fast as possible (default 1)
  --rate N             built-in feed only: events per second at speed 1 (default 1000)
  --keys N             built-in feed only: how many keys (default 20)
clients:
  --clients N          clients to connect (default 20)
  --topics N           topics each client joins, among the most frequent keys (default 3)
run:
  --spec FILE          another tree (needs a producer stage and a builtin:broadcaster)
  --host HOST          where the endpoint listens (default 127.0.0.1)
  --port N             (default 4000; 0 picks a free port)
  --duration S         stop feeding after S seconds (default: when the feed ends, or Ctrl-C)
  --chaos              kill a pipeline stage every 3 s (throw, exit, hang in turn)
across servers (run the demo once per server, each on its own --port):
  --pubsub URL         Redis cluster adapter (redis://127.0.0.1:6379): clients here also get
                       what the other servers push (counted apart: remote delivered)
  --queue URL          durable queue for the producer: redis-streams://HOST:PORT/STREAM?group=GROUP
                       (group default "stagewire-demo"; servers with the same stream and group share it)
  --seed N             seed of the clients' topic choice and of the built-in feed (default 1)
  --json               print the summary as JSON on the last line of stdout
`

/** Parses the demo's flags; a string is the error to print. */
export function parseDemoArgs (argv: string[]): { options: DemoOptions, json: boolean } | string {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        replay: { type: 'string' },
        key: { type: 'string' },
        time: { type: 'string' },
        speed: { type: 'string' },
        rate: { type: 'string' },
        keys: { type: 'string' },
        clients: { type: 'string' },
        topics: { type: 'string' },
        spec: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        duration: { type: 'string' },
        chaos: { type: 'boolean', default: false },
        pubsub: { type: 'string' },
        queue: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }))
  } catch (err) {
    return (err as Error).message
  }
  const int = (flag: string, raw: string | undefined, min: number, max: number): number | undefined | string => {
    if (raw === undefined) return undefined
    const n = Number(raw)
    return /^\d+$/.test(raw) && n >= min && n <= max ? n : `--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`
  }
  const clients = int('clients', values.clients, 1, 10_000)
  const topics = int('topics', values.topics, 1, 100)
  const port = int('port', values.port, 0, 65535)
  const seed = int('seed', values.seed, 0, 2 ** 32 - 1)
  const rate = int('rate', values.rate, 1, 10_000_000)
  const keys = int('keys', values.keys, 1, 10_000)
  for (const v of [clients, topics, port, seed, rate, keys]) if (typeof v === 'string') return v
  let speed: Speed | undefined
  if (values.speed !== undefined) {
    speed = values.speed === 'max' ? 'max' : Number(values.speed)
    if (speed !== 'max' && (!Number.isFinite(speed) || speed <= 0)) return `--speed must be a positive number or "max", got ${JSON.stringify(values.speed)}`
  }
  let durationMs: number | undefined
  if (values.duration !== undefined) {
    const s = Number(values.duration)
    // Node's timers stop at 2^31 - 1 ms; a longer one would fire at once.
    if (!Number.isFinite(s) || s <= 0 || s * 1000 > 2 ** 31 - 1) return `--duration must be a number of seconds above 0, at most 2147483, got ${JSON.stringify(values.duration)}`
    durationMs = Math.max(1, Math.round(s * 1000))
  }
  if (values.pubsub !== undefined && !/^rediss?:\/\/[^/\s]+/.test(values.pubsub)) return `--pubsub must be a redis:// URL (e.g. redis://127.0.0.1:6379), got ${JSON.stringify(values.pubsub)}`
  let queue: DemoOptions['queue']
  if (values.queue !== undefined) {
    const q = parseQueueUrl(values.queue)
    if (typeof q === 'string') return q
    queue = q
  }
  if (values.replay === undefined && (values.key !== undefined || values.time !== undefined)) return '--key and --time go with --replay FILE'
  if (values.replay !== undefined && values.key === undefined) return '--replay needs --key FIELD (the routing key: repo_name, channel, product_id, ...)'
  if (values.replay !== undefined) {
    // Checked here so that a wrong path is a bad flag (exit 2), named as one.
    let stat
    try {
      stat = statSync(values.replay)
    } catch (err) {
      return `--replay ${JSON.stringify(values.replay)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`
    }
    if (!stat.isFile()) return `--replay ${JSON.stringify(values.replay)} is not a file`
  }
  if (values.replay !== undefined && (rate !== undefined || keys !== undefined)) return '--rate and --keys are for the built-in feed, not with --replay'
  const options: DemoOptions = {
    spec: values.spec ?? `${packageRoot()}/examples/demo/tree.json`,
    host: values.host,
    port: port as number | undefined ?? 4000,
    speed,
    clients: clients as number | undefined,
    topicsPerClient: topics as number | undefined,
    seed: seed as number | undefined,
    durationMs,
    chaos: values.chaos,
  }
  if (values.pubsub !== undefined) options.pubsub = values.pubsub
  if (queue !== undefined) options.queue = queue
  if (values.replay !== undefined) options.replay = { file: values.replay, key: values.key as string, time: values.time }
  else options.generator = { rate: rate as number | undefined, keys: keys as number | undefined, seed: seed as number | undefined }
  return { options, json: values.json }
}

/** `redis-streams://[user:pass@]HOST:PORT/STREAM?group=GROUP` → the durable queue's settings; a string is the error. */
export function parseQueueUrl (raw: string): NonNullable<DemoOptions['queue']> | string {
  const bad = `--queue must be redis-streams://HOST:PORT/STREAM?group=GROUP, got ${JSON.stringify(raw)}`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return bad
  }
  const stream = decodeURIComponent(url.pathname.slice(1))
  if (url.protocol !== 'redis-streams:' || url.hostname === '' || stream === '' || /\s|\//.test(stream)) return bad
  const group = url.searchParams.get('group') ?? 'stagewire-demo'
  if (group === '' || /\s/.test(group)) return bad
  const auth = url.username !== '' ? `${url.username}${url.password !== '' ? `:${url.password}` : ''}@` : ''
  return { url: `redis://${auth}${url.host}`, stream, group }
}

/** Runs `stagewire demo`; returns the exit code. */
export async function demoCommand (argv: string[]): Promise<number> {
  const parsed = parseDemoArgs(argv)
  if (typeof parsed === 'string') {
    process.stderr.write(`stagewire demo: ${parsed}\n\n${DEMO_USAGE}`)
    return 2
  }
  const { options, json } = parsed
  const err = process.stderr
  const tty = err.isTTY === true
  let liveShown = false
  const log = (line: string): void => {
    if (liveShown) err.write('\r\x1b[2K')
    liveShown = false
    err.write(`${line}\n`)
  }
  let lastLogged = 0
  const stopping = new AbortController()
  const onSignal = (): void => {
    if (stopping.signal.aborted) {
      log('stagewire demo: stopped without draining')
      process.exit(130)
    }
    log('stopping: draining what was pushed (Ctrl-C again to quit at once)...')
    stopping.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const demo = new DemoRun({ ...options, signal: stopping.signal })
  demo.on('ready', (r) => {
    log(`stagewire demo: ${r.feed === 'generator' ? 'the built-in market-data feed' : r.feed} → ingest${options.queue !== undefined ? ` (stream ${options.queue.stream}, group ${options.queue.group})` : ''} → enrich → broadcaster${options.pubsub !== undefined ? ' ⇄ Redis pub/sub' : ''} → ${r.clients} clients on ${r.topics.length} topics`)
    log(`  watch it in a browser: ${r.pageUrl}   (clients connect to ${r.url})`)
    if (options.durationMs === undefined && options.replay === undefined) log('  Ctrl-C stops it gracefully.')
  })
  demo.on('progress', (p) => {
    const line = liveLine(p)
    if (tty) {
      err.write(`\r\x1b[2K${line}`)
      liveShown = true
    } else if (p.seconds - lastLogged >= 5) {
      lastLogged = p.seconds
      log(line)
    }
  })
  demo.on('chaos', (c) => log(`chaos: ${c.kind} in ${c.stage}`))
  demo.on('restart', (r) => log(`restarted ${r.id} after ${r.reason}`))
  demo.on('draining', (why) => log(`feed ${why === 'feed_done' ? 'done' : why === 'duration' ? 'stopped (--duration)' : 'stopped'}: draining...`))

  let summary: DemoSummary
  try {
    summary = await demo.run()
  } catch (e) {
    log(`stagewire demo: ${describeThrown(e)}`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  if (liveShown) err.write('\n')
  err.write(table(summary))
  const faults = demoFailed(summary, options.chaos === true)
  if (faults.length > 0) err.write(`FAILED: ${faults.join(', ')}\n${summary.samples.map((s) => `  ${s}\n`).join('')}`)
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  return faults.length > 0 ? 1 : 0
}

function liveLine (p: DemoProgress): string {
  return `${p.seconds.toFixed(0).padStart(4)}s  ${fmt(Math.round(p.eventsPerS)).padStart(7)} ev/s  pushed ${fmt(p.pushed)}  delivered ${fmt(p.delivered)}` +
    `  p50 ${ms(p.p50)}  p99 ${ms(p.p99)}  dropped ${fmt(p.dropped)}  lost ${fmt(p.lost)}  restarts ${p.restarts}` +
    (p.misrouted > 0 ? `  MISROUTED ${fmt(p.misrouted)}` : '')
}

function table (s: DemoSummary): string {
  const rows: Array<[string, string]> = [
    ['feed', s.feed],
    ['seconds', s.seconds.toFixed(1)],
    ['events pushed', fmt(s.pushed)],
    ['  broadcast', fmt(s.broadcast)],
    ['  dropped', `${fmt(s.dropped)}${s.dropped > 0 ? `  ${JSON.stringify(s.dropped_by_reason)}` : ''}`],
    ['  lost in crashes', fmt(s.lost)],
    ['  unaccounted', `${fmt(s.unaccounted)}${s.queue_shared ? '  (durable queue shared with other servers: per cluster)' : ''}`],
    ...(s.queue_left !== null ? [['  left in the queue', `${fmt(s.queue_left)}  (waiting in Redis for the group's next reader)`]] as Array<[string, string]> : []),
    ['events/s', fmt(s.events_per_s)],
    ['deliveries expected', `${fmt(s.expected_deliveries)}  (${s.clients} clients, ${s.joined} joins on ${s.topics} topics)`],
    ['  delivered', fmt(s.delivered)],
    ['  not broadcast', fmt(s.not_broadcast)],
    ['  dropped at socket', fmt(s.dropped_at_socket)],
    ['  missing', fmt(s.missing)],
    ['misrouted', fmt(s.misrouted)],
    ...(s.pubsub !== null
      ? [
          ['remote delivered', `${fmt(s.remote_delivered)}  (events pushed on other servers)`],
          ['not published', `${fmt(s.not_published)}  (broadcast here while the adapter was down)`],
          ['pubsub', `published ${fmt(s.pubsub.published)}, received ${fmt(s.pubsub.received)}, dropped ${fmt(s.pubsub.dropped)}, missed ${fmt(s.pubsub.missed)}`],
        ] as Array<[string, string]>
      : []),
    ['duplicates', fmt(s.duplicates)],
    ['latency push→client', `p50 ${ms(s.latency_ms.p50)}  p90 ${ms(s.latency_ms.p90)}  p99 ${ms(s.latency_ms.p99)}  max ${ms(s.latency_ms.max)}${s.latency_negative > 0 ? `  (${fmt(s.latency_negative)} received before pushed, by the clocks: counted as 1 µs)` : ''}`],
    ['restarts', `${s.restarts}${s.chaos.kills > 0 ? `  (chaos kills: ${s.chaos.kills})` : ''}`],
  ]
  const skipped = Object.entries(s.skipped).filter(([, n]) => n > 0)
  if (skipped.length > 0) rows.push(['lines skipped', skipped.map(([r, n]) => `${r} ${fmt(n)}`).join(', ')])
  if (s.client_errors > 0 || s.disconnects > 0) rows.push(['client errors', `${s.client_errors}, disconnects ${s.disconnects}`])
  const width = Math.max(...rows.map(([k]) => k.length))
  return `\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`
}

function fmt (n: number): string {
  return n.toLocaleString('en-US')
}

function ms (v: number | null): string {
  return v === null ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`
}
