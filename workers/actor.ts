/**
 * Entry point of an actor thread.
 *
 * Loads the actor's module, runs `init`, then reports liveness (heartbeats),
 * statistics and lifecycle to the supervisor on `parentPort`, and serves
 * calls on its own call port. The protocol is written out in lib/protocol.ts.
 *
 * When the boot data lists stages, the thread hosts those pipeline stages
 * (lib/stage/host.ts) instead of a plain actor module; the lifecycle is the same.
 *
 * A crash anywhere in the thread (an uncaught exception, an unhandled
 * rejection) is reported as a `crash` message and the thread exits with code
 * 1, as pino's thread-stream worker does: the supervisor, not the thread,
 * decides what happens next. `process.exit()` called by the module ends only
 * this thread; the supervisor sees an exit it did not ask for.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { loadActorModule } from '../lib/actor/behaviour.js'
import type { ActorContext, ActorModule, ExitReason } from '../lib/actor/behaviour.js'
import { serveCalls } from '../lib/actor/call-channel.js'
import { InvalidArgumentError, NotImplementedError, ProtocolError, describeThrown, toWire } from '../lib/errors.js'
import { isBuiltinRequest } from '../lib/protocol.js'
import type { ActorBoot, ActorStats, BuiltinRequest, CallResult, DropCounts, ExitReasonWire, FromActor, ToActor } from '../lib/protocol.js'
import type { ThreadMetrics } from '../lib/metrics/thread-metrics.js'
import { StageHost } from '../lib/stage/host.js'

if (parentPort === null) throw new Error('workers/actor.js must run in a worker thread')
const control = parentPort
const boot = workerData as ActorBoot

function send (message: FromActor): void {
  control.postMessage(message)
}

/** How often a thread sends what it measured (lib/metrics/thread-metrics.ts), when it measured anything. */
const METRICS_MS = 1000

/** What this thread measures: only a thread that hosts stages loads it (see StageHost.load). */
let threadMetrics: ThreadMetrics | undefined

function sendMetrics (): void {
  const report = threadMetrics?.take()
  if (report !== undefined) send({ type: 'metrics', report })
}

/** On the way out of a crash: what was measured is sent if it can be, and a failure here must not hide the crash. */
function trySendMetrics (): void {
  try {
    sendMetrics()
  } catch {
    // the crash report matters more
  }
}

function onUncaughtException (err: unknown): void {
  flushDrops()
  trySendMetrics()
  send({ type: 'crash', error: toWire(err), origin: 'uncaughtException' })
  process.exit(1)
}
function onUnhandledRejection (reason: unknown): void {
  flushDrops()
  trySendMetrics()
  send({ type: 'crash', error: toWire(reason), origin: 'unhandledRejection' })
  process.exit(1)
}
process.on('uncaughtException', onUncaughtException)
process.on('unhandledRejection', onUnhandledRejection)

let module: ActorModule = {}
let state: unknown
let host: StageHost | undefined
/** Buffer drops not yet reported, by stage; reported at most every 100 ms. */
let drops: DropCounts | undefined
let dropTimer: NodeJS.Timeout | undefined

function flushDrops (): void {
  if (drops === undefined) return
  send({ type: 'dropped', counts: drops })
  drops = undefined
  clearTimeout(dropTimer)
}

function newHost (): StageHost {
  return new StageHost({
    fail: onUncaughtException,
    stop: (reason) => { void finish(reason, 'exit') },
    dropped: (stage, count, reason) => {
      drops ??= {}
      const byReason = drops[stage] ??= {}
      byReason[reason] = (byReason[reason] ?? 0) + count
      dropTimer ??= setTimeout(() => { dropTimer = undefined; flushDrops() }, 100)
    },
  }, { codec: boot.codec, idSeed: boot.idSeed })
}
let calls = 0
let stopping = false
let heartbeatTimer: NodeJS.Timeout | undefined
let statsTimer: NodeJS.Timeout | undefined
let metricsTimer: NodeJS.Timeout | undefined
let lastElu = performance.eventLoopUtilization()

const ctx: ActorContext = {
  id: boot.id,
  stop (reason = 'normal') {
    // After the current callback: let its reply go out first.
    setImmediate(() => { void finish(reason === 'normal' ? { kind: 'normal' } : { kind: 'error', error: reason }, 'exit') })
  },
}

function collectStats (): ActorStats {
  const elu = performance.eventLoopUtilization(lastElu)
  lastElu = performance.eventLoopUtilization()
  const stats: ActorStats = { calls, heapUsed: getHeapStatistics().used_heap_size, elu: elu.utilization }
  if (module.stats !== undefined) stats.custom = module.stats(state)
  return stats
}

async function handleCall (request: unknown, stage?: string): Promise<CallResult> {
  calls++
  try {
    if (isBuiltinRequest(request)) return { ok: true, value: builtinReply(request) }
    if (host !== undefined) return { ok: true, value: await host.call(stage ?? boot.id, request) }
    if (module.handleCall === undefined) {
      throw new NotImplementedError(`actor "${boot.id}" has no handleCall`)
    }
    const result = await module.handleCall(request, state, ctx)
    if (typeof result !== 'object' || result === null || !('state' in result)) {
      throw new InvalidArgumentError(`actor "${boot.id}": handleCall must return { reply, state }, got ${describeThrown(result)}`)
    }
    state = result.state
    return { ok: true, value: result.reply }
  } catch (err) {
    return { ok: false, error: toWire(err) }
  }
}

function builtinReply (request: BuiltinRequest): unknown {
  switch (request.$) {
    case 'stats': return collectStats()
    case 'ping': return 'pong'
    default: throw new ProtocolError(`unknown built-in request ${JSON.stringify(request)}`)
  }
}

function reasonToWire (reason: ExitReason): ExitReasonWire {
  return reason.kind === 'error' ? { kind: 'error', error: toWire(reason.error) } : reason
}

/** Runs `terminate`, reports, and ends the thread. `how` says whether the supervisor asked. */
async function finish (reason: ExitReason, how: 'shutdown' | 'exit'): Promise<void> {
  if (stopping) return
  stopping = true
  clearInterval(heartbeatTimer)
  clearInterval(statsTimer)
  clearInterval(metricsTimer)
  try {
    if (host !== undefined) await host.terminate(reason)
    else await module.terminate?.(reason, state)
  } catch {
    // terminate is best effort: the actor is going away either way, and a
    // failing terminate must not turn a clean shutdown into a crash report.
  }
  flushDrops()
  trySendMetrics()
  send(how === 'shutdown' ? { type: 'shutdown_ack' } : { type: 'exit', reason: reasonToWire(reason) })
  process.exit(0)
}

function onControl (message: ToActor): void {
  switch (message.type) {
    case 'shutdown':
      void finish({ kind: message.reason }, 'shutdown')
      break
    case 'link':
    case 'down':
    case 'ingest':
    case 'unawait':
      if (host === undefined) throw new ProtocolError(`actor "${boot.id}" hosts no stages; got ${message.type}`)
      host.control(message).catch(onUncaughtException)
      break
    default:
      throw new ProtocolError(`actor "${boot.id}" got an unknown control message ${JSON.stringify(message)}`)
  }
}

async function main (): Promise<void> {
  try {
    if (boot.stages !== undefined) {
      host = newHost()
      await host.load(boot.stages)
      threadMetrics = (await import('../lib/metrics/thread-metrics.js')).threadMetrics
      await host.init(boot.stages)
    } else {
      module = await loadActorModule(boot.module)
      state = await module.init?.(boot.args, ctx)
    }
  } catch (err) {
    send({ type: 'init_failed', error: toWire(err) })
    process.exit(1)
  }
  control.on('message', onControl)
  serveCalls(boot.callPort, { call: handleCall })
  heartbeatTimer = setInterval(send, boot.heartbeatMs, { type: 'heartbeat' } satisfies FromActor)
  if (boot.statsMs > 0) {
    statsTimer = setInterval(() => send({ type: 'stats', stats: collectStats() }), boot.statsMs)
  }
  if (threadMetrics !== undefined) metricsTimer = setInterval(sendMetrics, METRICS_MS)
  send({ type: 'ready' })
}

void main()
