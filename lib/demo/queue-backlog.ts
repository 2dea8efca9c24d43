/**
 * What a durable queue's consumer group owes, read before and after a demo run. A group made at
 * start reads its stream from the beginning (lib/queue/stream-source.ts: nothing accepted before the
 * first reader is skipped), and a group reused from an earlier run goes on with what that run left
 * (read and never acknowledged, or never read). Either way the run would broadcast events it did not
 * push, and its accounting (`pushed = broadcast + dropped + lost`) would not add up; so the demo
 * looks first and says so. After the run, what the group still owes is the part of the pushes that
 * is neither broadcast, dropped nor lost: it waits in Redis for the next reader.
 * @internal
 */
import { Redis } from 'ioredis'

/** A stream and its group, as `--queue` names them. */
export interface QueueRef { url: string, stream: string, group: string }

export interface QueueBacklog {
  /** Entries in the stream (XLEN). */
  length: number
  /** Whether the group exists yet. */
  group: boolean
  /** Entries the group has read and not acknowledged (XINFO GROUPS `pending`). */
  pending: number
  /** Entries the group has not read yet (`lag`; the whole stream for a group not made yet). */
  unread: number
}

/** Reads the backlog; undefined when Redis cannot be asked (the run will report that itself). */
export async function queueBacklog (queue: QueueRef, timeoutMs = 3000): Promise<QueueBacklog | undefined> {
  const redis = new Redis(queue.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectionName: 'stagewire-demo-backlog',
  })
  redis.on('error', () => { /* reported by the rejected command */ })
  try {
    await redis.connect()
    const length = await redis.xlen(queue.stream)
    if (length === 0) return { length, group: false, pending: 0, unread: 0 }
    const groups = await redis.xinfo('GROUPS', queue.stream) as unknown[][]
    for (const raw of groups) {
      const info = fields(raw)
      if (info.name !== queue.group) continue
      const pending = Number(info.pending ?? 0)
      // `lag` is null when Redis cannot tell (entries deleted mid-stream): count what follows the
      // group's last delivered id instead.
      const unread = typeof info.lag === 'number'
        ? info.lag
        : (await redis.xrange(queue.stream, `(${String(info['last-delivered-id'])}`, '+')).length
      return { length, group: true, pending, unread }
    }
    return { length, group: false, pending: 0, unread: length }
  } catch {
    return undefined
  } finally {
    redis.disconnect()
  }
}

/** `[k1, v1, k2, v2, ...]` → `{k1: v1, ...}`. */
function fields (raw: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = raw[i + 1]
  return out
}

/**
 * Why a run on this backlog would not add up, or null when it would. With a group `shared` with
 * other servers running now, what the group owes may be theirs in flight: only a new group on a
 * stream that holds entries is a problem then.
 */
export function backlogProblem (queue: QueueRef, backlog: QueueBacklog, shared: boolean): string | null {
  const owed = backlog.pending + backlog.unread
  if (owed === 0 || (shared && backlog.group)) return null
  const entries = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`
  const what = backlog.group
    ? `group "${queue.group}" of stream "${queue.stream}" still owes ${entries(owed)} from an earlier run (${backlog.unread} unread, ${backlog.pending} read and not acknowledged)`
    : `stream "${queue.stream}" already holds ${entries(backlog.length)}, and group "${queue.group}" is new: a new group reads a stream from its beginning`
  return `${what}; this run would broadcast them too, and its counts would not add up. ` +
    `Use another stream, or delete this one (redis-cli DEL ${queue.stream}).`
}
