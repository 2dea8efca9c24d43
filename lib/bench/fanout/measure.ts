/**
 * One run of one contender, inside the server's process (the harness starts one per run):
 *
 * ```
 *   pin to core 0 ─► start the server ─► GC, weigh ─► swarm on core 1: N clients connect and join
 *   ─► GC, weigh: (RSS after - RSS before) / N
 *   ─► warm-up: a few isolated broadcasts, not counted
 *   ─► paced: P broadcasts, one every I ms (scheduled on the clock, late calls not made up for)
 *   ─► isolated: K broadcasts, each sent once every client has the previous one, G ms after it
 *   ─► sustained: broadcasts back to back (one per event-loop turn, at most W not yet received by
 *      every client); over S s after 1 s of warm-up: deliveries/s at the clients, the server's own
 *      process.cpuUsage() per delivery
 *   ─► every broadcast of the run accounted: missing and duplicate deliveries
 * ```
 *
 * Latency of a broadcast = (clock when the last client's `message` event fired, in the swarm) -
 * (clock just before the broadcast call, here). Both clocks are `performance.timeOrigin +
 * performance.now()`; their offset is measured and reported (`clock_offset_ms`).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { RunResult } from '../harness.js'
import { SERVER_CORE, SWARM_CORE, pinSelf } from './affinity.js'
import { makePayload } from './payload.js'
import { now } from './protocol.js'
import type { FromSwarm } from './protocol.js'
import { startServer } from './server.js'
import type { ContenderName, FanoutServer } from './server.js'
import { SwarmLink } from './swarm-link.js'

/** What a run does; the parent's options, passed to every child as JSON. */
export interface Plan {
  /** Clients joined to the one topic. */
  clients: number
  /** Broadcasts of the paced phase, and the ms between them. */
  paced: number
  intervalMs: number
  /** Broadcasts of the isolated phase, and the ms of quiet after each has reached every client. */
  isolated: number
  gapMs: number
  /** Isolated broadcasts before the phases, not counted (JIT, first writes). */
  warmup: number
  /** Seconds of the sustained window (after 1 s of warm-up), and the broadcasts it keeps in flight. */
  seconds: number
  window: number
  /** Clients joining at once while connecting. */
  concurrency: number
  /** Pin the server and the swarm to their cores (`taskset`). */
  pin: boolean
}

const SUSTAINED_WARMUP_MS = 1000
const CLOSE_TIMEOUT_MS = 5000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** Sends numbered broadcasts and remembers when each call was made. */
class Broadcaster {
  seq = 0
  readonly sentAt: number[] = [Number.NaN]
  readonly #server: FanoutServer

  constructor (server: FanoutServer) {
    this.#server = server
  }

  send (): number {
    const seq = ++this.seq
    const ts = now()
    this.sentAt[seq] = ts
    this.#server.broadcast(makePayload(seq, ts))
    return seq
  }
}

/** The nearest-rank percentile `p` of `values` (p99 of 50 values is their maximum). */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1] as number
}

interface Latencies { lastP50: number, lastP99: number, firstP50: number, missing: number }

/**
 * Latencies of the broadcasts in `report` to their first and last client, from `sentAt` (the
 * clock at each broadcast's call, or at the time it was due); deliveries missing.
 */
function latencies (report: Extract<FromSwarm, { kind: 'report' }>, sentAt: number[], clients: number): Latencies {
  const last: number[] = []
  const first: number[] = []
  let missing = 0
  for (let i = 0; i < report.counts.length; i++) {
    const count = report.counts[i] as number
    const sent = sentAt[report.from + i] as number
    missing += Math.max(0, clients - count)
    if (count === 0) continue
    last.push((report.last[i] as number) - sent)
    first.push((report.first[i] as number) - sent)
  }
  return { lastP50: percentile(last, 50), lastP99: percentile(last, 99), firstP50: percentile(first, 50), missing }
}

/** RSS and heap after full GCs. */
async function weigh (): Promise<NodeJS.MemoryUsage> {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('the fan-out child needs --expose-gc (the harness passes it)')
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(50)
  }
  return process.memoryUsage()
}

/** ms to wait for `broadcasts` fan-outs to `clients` to finish: generous, so only a stall hits it. */
function drainTimeout (clients: number, broadcasts: number): number {
  return 10_000 + clients * broadcasts * 0.04
}

async function paced (b: Broadcaster, swarm: SwarmLink, plan: Plan): Promise<Record<string, number>> {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const from = b.seq + 1
  const start = performance.now() + plan.intervalMs
  // When each broadcast was due: a server whose loop is still busy with the previous fan-out calls
  // late, and the wait counts for the data, though not in "from the call".
  const dueAt: number[] = []
  let firstCall = 0
  let lastCall = 0
  for (let k = 0; k < plan.paced; k++) {
    const due = start + k * plan.intervalMs
    await sleep(due - performance.now())
    lastCall = performance.now()
    if (k === 0) firstCall = lastCall
    dueAt[b.seq + 1] = performance.timeOrigin + due
    b.send()
  }
  await swarm.whenDone(from, b.seq, drainTimeout(plan.clients, plan.paced))
  delay.disable()
  const report = await swarm.report(from, b.seq)
  const l = latencies(report, b.sentAt, plan.clients)
  const due = latencies(report, dueAt, plan.clients)
  return {
    paced_last_p50_ms: l.lastP50,
    paced_last_p99_ms: l.lastP99,
    paced_first_p50_ms: l.firstP50,
    paced_due_last_p50_ms: due.lastP50,
    paced_due_last_p99_ms: due.lastP99,
    // Broadcast calls per second actually made: below 1000 / intervalMs, the server could not keep the pace.
    paced_rate: plan.paced > 1 ? (plan.paced - 1) / ((lastCall - firstCall) / 1000) : Number.NaN,
    paced_loop_delay_p99_ms: delay.percentile(99) / 1e6,
    paced_loop_delay_max_ms: delay.max / 1e6,
    paced_missing: l.missing,
  }
}

async function isolated (b: Broadcaster, swarm: SwarmLink, plan: Plan, count: number): Promise<Record<string, number>> {
  const from = b.seq + 1
  // CPU over the phase (idle gaps cost none): what a delivery costs when nothing can be coalesced.
  const cpu = process.cpuUsage()
  let delivered = 0
  for (let k = 0; k < count; k++) {
    const seq = b.send()
    if (await swarm.whenDone(seq, seq, drainTimeout(plan.clients, 1))) delivered += plan.clients
    await sleep(plan.gapMs)
  }
  const used = process.cpuUsage(cpu)
  const spent = used.user + used.system
  const l = latencies(await swarm.report(from, b.seq), b.sentAt, plan.clients)
  return {
    iso_last_p50_ms: l.lastP50,
    iso_last_p99_ms: l.lastP99,
    iso_first_p50_ms: l.firstP50,
    iso_cpu_us_per_delivery: spent / delivered,
    iso_server_user_share: used.user / spent,
    iso_missing: l.missing,
  }
}

async function sustained (b: Broadcaster, swarm: SwarmLink, server: FanoutServer, plan: Plan): Promise<Record<string, number>> {
  const from = b.seq + 1
  let inFlight = 0
  let stopped = false
  let scheduled = false
  // One broadcast per turn of the event loop, so a contender that yields gets its turns in between.
  const issue = (): void => {
    scheduled = false
    if (stopped || inFlight >= plan.window) return
    b.send()
    inFlight++
    if (inFlight < plan.window) {
      scheduled = true
      setImmediate(issue)
    }
  }
  swarm.onDone = (seq) => {
    if (seq < from) return
    inFlight--
    if (!scheduled && !stopped) {
      scheduled = true
      setImmediate(issue)
    }
  }
  issue()
  await sleep(SUSTAINED_WARMUP_MS)
  const snapshot = async (): Promise<{ cpu: NodeJS.CpuUsage, t: number, counters: Record<string, number>, swarm: Extract<FromSwarm, { kind: 'usage' }> }> => {
    const t = now()
    const cpu = process.cpuUsage()
    const counters = server.counters()
    return { t, cpu, counters, swarm: await swarm.usage() }
  }
  const s0 = await snapshot()
  await sleep(plan.seconds * 1000)
  const s1 = await snapshot()
  stopped = true
  await swarm.whenDone(from, b.seq, drainTimeout(plan.clients, plan.window))
  swarm.onDone = null
  const serverCpuUs = (s1.cpu.user - s0.cpu.user) + (s1.cpu.system - s0.cpu.system)
  const deliveries = s1.swarm.received - s0.swarm.received
  const out: Record<string, number> = {
    deliveries_per_s: deliveries / ((s1.swarm.at - s0.swarm.at) / 1000),
    cpu_us_per_delivery: serverCpuUs / deliveries,
    server_cores: serverCpuUs / 1000 / (s1.t - s0.t),
    server_user_share: (s1.cpu.user - s0.cpu.user) / serverCpuUs,
    swarm_cores: (s1.swarm.cpuUs - s0.swarm.cpuUs) / 1000 / (s1.swarm.at - s0.swarm.at),
    sustained_broadcasts: b.seq - from + 1,
  }
  const frames = (s1.counters.frames ?? 0) - (s0.counters.frames ?? 0)
  const writes = (s1.counters.writes ?? 0) - (s0.counters.writes ?? 0)
  const slices = (s1.counters.slices ?? 0) - (s0.counters.slices ?? 0)
  if (writes > 0) {
    out.frames_per_write = frames / writes
    out.writes_per_slice = writes / slices
  }
  return out
}

/** Runs contender `name` once with `plan`; what the child prints as its RESULT. */
export async function runContender (name: ContenderName, plan: Plan): Promise<RunResult> {
  if (plan.pin) pinSelf(SERVER_CORE)
  const server = await startServer(name)
  const swarm = await SwarmLink.spawn(plan.pin ? SWARM_CORE : null)
  try {
    const clockOffset = await swarm.clockOffset()
    const before = await weigh()
    const connectMs = await swarm.connect(server.dialect, server.url, plan.clients, plan.concurrency)
    await sleep(500)
    const after = await weigh()
    const b = new Broadcaster(server)
    await isolated(b, swarm, plan, plan.warmup)
    const extra: Record<string, number> = {
      connect_s: connectMs / 1000,
      rss_kib_per_conn: (after.rss - before.rss) / 1024 / plan.clients,
      heap_kib_per_conn: (after.heapUsed - before.heapUsed) / 1024 / plan.clients,
      clock_offset_ms: clockOffset,
      ...await paced(b, swarm, plan),
      ...await isolated(b, swarm, plan, plan.isolated),
      ...await sustained(b, swarm, server, plan),
    }
    // Every delivery of the run, warm-up included, accounted for.
    const all = await swarm.report(1, b.seq)
    let missing = 0
    let duplicates = 0
    for (const count of all.counts) {
      missing += Math.max(0, plan.clients - count)
      duplicates += Math.max(0, count - plan.clients)
    }
    const counters = server.counters()
    Object.assign(extra, {
      broadcasts: b.seq,
      missing,
      duplicates,
      clients_closed: all.closed,
      server_drops: counters.drops ?? 0,
      server_disconnects: counters.disconnects ?? 0,
      pinned: plan.pin ? 1 : 0,
    })
    return { value: extra.deliveries_per_s as number, extra }
  } finally {
    await swarm.close()
    await Promise.race([server.close(), sleep(CLOSE_TIMEOUT_MS)])
  }
}
