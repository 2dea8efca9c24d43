/**
 * The producer of a durable queue (`queue: { kind: 'redis-streams' }`): reads the stream with a
 * consumer group, on demand, and emits each entry as an envelope whose `id` is the entry id and
 * whose `ack` names the stream and group, for the broadcaster to XACK once it has handed it on.
 *
 * ```
 *  runtime.push ─► XADD <stream> (main thread, lib/queue/stream-writer.ts)
 *                         │
 *  [producer thread] read loop, one connection:
 *     demand == 0 ─► wait for handleDemand
 *     claim due?  ─► XAUTOCLAIM <stream> <group> <me> claimIdleMs <cursor> COUNT demand ─► emit
 *     else        ─► XREADGROUP GROUP <group> <me> COUNT demand BLOCK blockMs STREAMS <stream> > ─► emit
 *                         │ envelopes { id: entry id, ts, topic, event, payload, ack }
 *                         ▼
 *  ... stages ... ─► broadcaster: endpoint + publish, then XACK (lib/queue/stream-acker.ts)
 * ```
 *
 * GenStage's pattern for a producer fed from outside: `handleDemand` only adds to the demand it
 * owes; the loop emits (`ctx.emit`) as entries come, never more than owed, so the read COUNT is
 * exactly the outstanding demand and a stream with nothing new is waited on with BLOCK.
 *
 * Entries read and not acknowledged stay pending in the group under this reader's name. A reader
 * that dies (SIGKILL, a crashed thread) leaves them there; every reader claims, every
 * `claimIntervalMs`, those idle for longer than `claimIdleMs` (its own included) and delivers them
 * first. Each start is a new consumer name, so a restarted reader gets its old entries back the
 * same way, by claiming. Delivery is therefore at least once: a claimed entry may have reached
 * clients already (its ack was lost with the process).
 * @internal
 */
import type { Buffer } from 'node:buffer'
import { Redis } from 'ioredis'
import { defineProducer } from '../stage/behaviour.js'
import type { StageContext } from '../stage/behaviour.js'
import type { Envelope } from '../stage/envelope.js'
import { decodeEntry } from './entry.js'
import { ackKey, consumerName } from './stream-spec.js'
import type { StreamQueueSettings } from './stream-spec.js'

/** What `runtime.call(producerId, { op: 'stats' })` answers. */
export interface StreamSourceStats {
  stream: string
  group: string
  consumer: string
  /** Entries read as new (XREADGROUP). */
  read: number
  /** Entries claimed from a reader that left them idle (XAUTOCLAIM). */
  claimed: number
  /** Entries not of this format: acknowledged at once and skipped. */
  invalid: number
  /** Demand owed and not yet met. */
  demand: number
  lastError: string | null
}

interface State {
  readonly settings: StreamQueueSettings
  readonly consumer: string
  readonly ack: string
  readonly redis: Redis
  readonly stats: StreamSourceStats
  readonly ctx: StageContext
  /** The group exists (made, or found made) on the current server. */
  grouped: boolean
  closed: boolean
  /** Wakes the loop when demand arrives. */
  wake: (() => void) | null
  /** XAUTOCLAIM's cursor: '0-0' once a scan of the pending entries is complete. */
  cursor: string
  lastClaim: number
  loop: Promise<void> | null
}

/** Retry pause after a failed command (Redis away, reconnecting). */
const RETRY_MS = 100

export default defineProducer<State, StreamQueueSettings>({
  async init (settings, ctx) {
    const consumer = settings.consumer ?? consumerName()
    const redis = new Redis(settings.url, {
      lazyConnect: true,
      connectTimeout: settings.connectTimeoutMs,
      // Fail at once while disconnected: the loop retries, and a BLOCK is never queued behind a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(20 * 2 ** (attempt - 1), 1000),
      connectionName: 'stagewire-stream-reader',
    })
    const state: State = {
      settings,
      consumer,
      ack: ackKey(settings),
      redis,
      stats: { stream: settings.stream, group: settings.group, consumer, read: 0, claimed: 0, invalid: 0, demand: 0, lastError: null },
      ctx,
      grouped: false,
      closed: false,
      wake: null,
      cursor: '0-0',
      lastClaim: 0,
      loop: null,
    }
    redis.on('error', (err: Error) => { state.stats.lastError = err.message })
    // Started here so that the group exists before the tree is up; a Redis that is not there yet
    // does not fail the start: the loop keeps trying, and push() says what it could not add.
    await Promise.race([
      redis.connect().then(() => ensureGroup(state), (err: Error) => { state.stats.lastError = err.message }),
      new Promise((resolve) => setTimeout(resolve, settings.connectTimeoutMs).unref()),
    ])
    state.loop = run(state)
    return state
  },

  handleDemand (demand, state) {
    state.stats.demand += demand
    const wake = state.wake
    state.wake = null
    wake?.()
    return { state }
  },

  handleCall (request, state) {
    if ((request as { op?: unknown } | null)?.op !== 'stats') throw new Error('a durable queue answers { op: "stats" }')
    return { reply: { ...state.stats }, state }
  },

  async terminate (_reason, state) {
    state.closed = true
    state.wake?.()
    state.redis.disconnect()
    await state.loop
  },
})

async function ensureGroup (state: State): Promise<void> {
  const { stream, group } = state.settings
  try {
    // From 0: entries added before the first reader started are read too.
    await state.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM')
  } catch (err) {
    if (!(err as Error).message.startsWith('BUSYGROUP')) throw err
  }
  state.grouped = true
}

/** The read loop: claims what is due, else reads new entries; only ever as many as owed. */
async function run (state: State): Promise<void> {
  const { settings, redis, stats } = state
  while (!state.closed) {
    if (stats.demand <= 0) {
      await new Promise<void>((resolve) => { state.wake = resolve })
      continue
    }
    try {
      if (!state.grouped) await ensureGroup(state)
      if (state.cursor !== '0-0' || Date.now() - state.lastClaim >= settings.claimIntervalMs) {
        const claimed = await claim(state)
        if (claimed > 0) continue
      }
      const reply = await redis.callBuffer('XREADGROUP', 'GROUP', settings.group, state.consumer, 'COUNT', stats.demand,
        'BLOCK', settings.blockMs, 'STREAMS', settings.stream, '>') as Array<[Buffer, Array<[Buffer, Buffer[] | null]>]> | null
      if (reply === null || state.closed) continue
      const entries = reply[0]?.[1] ?? []
      stats.read += entries.length
      await emit(state, entries)
    } catch (err) {
      if (state.closed) return
      const message = (err as Error).message
      stats.lastError = message
      // The stream or its group was deleted (or Redis restarted empty): make it again.
      if (message.startsWith('NOGROUP')) state.grouped = false
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
    }
  }
}

/** One XAUTOCLAIM step; returns how many entries it emitted. */
async function claim (state: State): Promise<number> {
  const { settings, redis, stats } = state
  const reply = await redis.callBuffer('XAUTOCLAIM', settings.stream, settings.group, state.consumer, settings.claimIdleMs,
    state.cursor, 'COUNT', stats.demand) as [Buffer, Array<[Buffer, Buffer[] | null]>, ...unknown[]]
  state.cursor = reply[0].toString()
  if (state.cursor === '0-0') state.lastClaim = Date.now()
  const entries = reply[1]
  stats.claimed += entries.length
  return emit(state, entries)
}

/** Emits the entries as envelopes; acknowledges (and counts) those that are not events. */
async function emit (state: State, entries: Array<[Buffer, Buffer[] | null]>): Promise<number> {
  const events: Envelope[] = []
  const invalid: string[] = []
  for (let i = 0; i < entries.length; i++) {
    const [idBytes, fields] = entries[i] as [Buffer, Buffer[] | null]
    const id = idBytes.toString()
    const envelope = decodeEntry(id, fields, state.ack)
    if (envelope === undefined) invalid.push(id)
    else events.push(envelope)
  }
  if (invalid.length > 0) {
    state.stats.invalid += invalid.length
    await state.redis.xack(state.settings.stream, state.settings.group, ...invalid)
  }
  if (events.length > 0 && !state.closed) {
    state.stats.demand -= events.length
    state.ctx.emit?.(events)
  }
  return events.length
}
