/**
 * The `queue` key of a producer stage: where the events `runtime.push()` gives it wait.
 *
 * ```json
 * { "id": "ingest", "stage": "producer", "module": "builtin:queue",
 *   "queue": { "kind": "redis-streams", "url": "redis://127.0.0.1:6379", "stream": "feed", "group": "stagewire" } }
 * ```
 *
 * `{ "kind": "memory" }` (or no key) is the in-memory queue: the producer's bounded buffer, at most
 * once, fastest. `redis-streams` is the durable queue (lib/queue/stream-source.ts): `push()` appends
 * to the stream, the producer reads it with a consumer group on demand, and the broadcaster
 * acknowledges each event once it has handed it on (lib/queue/stream-acker.ts). Only the spec
 * changes: stage and channel modules are the same either way.
 * @internal
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'

/** How long an entry read and not acknowledged stays with its reader before another may claim it. */
export const DEFAULT_CLAIM_IDLE_MS = 30_000
/** How long a read waits for new entries when there is demand and the stream has none. */
export const DEFAULT_BLOCK_MS = 1000
/** How long a start waits for Redis (the group is made then). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000
const MAX_TIMER_MS = 2 ** 31 - 1

/** Names without spaces: they travel space-separated in the envelope's `ack` (see {@link ackKey}). */
const name = z.string().regex(/^\S+$/, { error: 'must be a non-empty string without spaces' })

const redisUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== ''
  } catch {
    return false
  }
}, { error: (issue) => `must be a redis:// or rediss:// URL with a host (e.g. "redis://127.0.0.1:6379"), got ${JSON.stringify(issue.input)}` })

/** The schema of `queue`. */
export const queueSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('memory') }),
  z.strictObject({
    kind: z.literal('redis-streams'),
    url: redisUrl,
    stream: name,
    group: name,
    /** This reader's name in the group; default: host, pid and a random suffix (new at every start). */
    consumer: name.optional(),
    claimIdleMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
    /** How often the reader looks for entries to claim; default claimIdleMs / 2 (at most 5 s). */
    claimIntervalMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
    blockMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
    connectTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
    /** XADD MAXLEN ~ n: trims the stream; entries trimmed before they were read are lost (default: no trim). */
    maxLen: z.number().int().positive().optional(),
  }),
])

/** A durable queue's settings, defaults filled in: the args of its producer, and the writer's. */
export interface StreamQueueSettings {
  kind: 'redis-streams'
  url: string
  stream: string
  group: string
  /** Unset: made at each start of the producer (a restarted reader is a new consumer; see the claim). */
  consumer?: string
  claimIdleMs: number
  claimIntervalMs: number
  blockMs: number
  connectTimeoutMs: number
  maxLen?: number
}

/** Fills in the defaults; undefined for the in-memory queue. */
export function buildQueue (raw: z.infer<typeof queueSchema>): StreamQueueSettings | undefined {
  if (raw.kind === 'memory') return undefined
  const claimIdleMs = raw.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS
  return {
    kind: 'redis-streams',
    url: raw.url,
    stream: raw.stream,
    group: raw.group,
    ...(raw.consumer !== undefined ? { consumer: raw.consumer } : {}),
    claimIdleMs,
    claimIntervalMs: raw.claimIntervalMs ?? Math.max(1, Math.min(5000, Math.floor(claimIdleMs / 2))),
    blockMs: raw.blockMs ?? DEFAULT_BLOCK_MS,
    connectTimeoutMs: raw.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(raw.maxLen !== undefined ? { maxLen: raw.maxLen } : {}),
  }
}

/**
 * What a durable event carries in its envelope's `ack`: `<stream> <group> <url>`, all the
 * broadcaster needs to XACK it (names have no spaces, a URL none either).
 */
export function ackKey (settings: { url: string, stream: string, group: string }): string {
  return `${settings.stream} ${settings.group} ${settings.url}`
}

/** The parts of an {@link ackKey}; undefined when it is not one. */
export function parseAckKey (key: string): { stream: string, group: string, url: string } | undefined {
  const first = key.indexOf(' ')
  const second = key.indexOf(' ', first + 1)
  if (first <= 0 || second <= first + 1 || second === key.length - 1) return undefined
  return { stream: key.slice(0, first), group: key.slice(first + 1, second), url: key.slice(second + 1) }
}

/** A consumer name unique to this reader: host, process, random. */
export function consumerName (): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

/** The URL of the producer module that reads a stream (ts under tsx, js once compiled). */
export function streamSourceModule (): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js'
  return new URL(`./stream-source.${ext}`, import.meta.url).href
}
