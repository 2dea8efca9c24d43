/**
 * The broadcaster's side of a durable queue: XACK for the events it has handed on, and the window
 * of recent durable ids it uses to drop duplicates it can see.
 *
 * ```
 *  broadcaster thread, per batch:
 *    e.ack set? ─► seen(<stream>/<id>)? ─yes─► duplicate: not broadcast again, acknowledged
 *                        │ no
 *                        ▼
 *    endpoint.broadcast, pubsub.publish(…, dedup)   then, once those publishes are answered:
 *    XACK <stream> <group> id id id …   (one command per stream and batch, on a connection per Redis URL)
 * ```
 *
 * Why the broadcaster acknowledges, not the producer: the event is done once the broadcaster has
 * handed it to its sockets and to the other servers, and that happens in the broadcaster's thread.
 * Carrying acks back to the producer would need a channel from the broadcaster to every durable
 * producer upstream (through the stages between, or a new port kind in the wiring), for nothing:
 * XACK needs only the stream, the group and the entry id, which the envelope carries (`ack`,
 * `id`). So the broadcaster holds a Redis connection of its own and sends the XACKs itself, not
 * waiting for the answer before it asks for more (a lost ack only means a redelivery).
 * @internal
 */
import { Redis } from 'ioredis'
import { DedupWindow } from '../demo/dedup-window.js'
import { parseAckKey } from './stream-spec.js'

/** How many of the latest durable ids a broadcaster remembers to drop a duplicate (~100 B each). */
export const DEDUP_WINDOW = 200_000
/** XACKs in flight (ids) past which the broadcaster waits before asking for more events. */
const MAX_IN_FLIGHT = 100_000

/** The acknowledging figures, in the broadcaster's stats. */
export interface DurableStats {
  /** Entries Redis acknowledged (XACK counted them as pending). */
  acked: number
  /** Entries whose XACK failed (Redis away): they will be claimed and delivered again. */
  ackFailed: number
  /** Entries whose XACK is waiting for their publish or Redis's answer. */
  ackInFlight: number
  /** Durable events this broadcaster had already handed on (from its pipeline or another server): not delivered again. */
  duplicates: number
}

interface Target {
  stream: string
  group: string
  redis: Redis
  /** Ids of this batch, not sent yet. */
  ids: string[]
}

/** Internal: one per broadcaster. */
export class StreamAcker {
  readonly #targets = new Map<string, Target | null>()
  readonly #connections = new Map<string, Redis>()
  readonly #window = new DedupWindow(DEDUP_WINDOW)
  #acked = 0
  #ackFailed = 0
  #inFlight = 0
  #duplicates = 0
  #closed = false
  #drainWaiters: Array<() => void> = []

  /**
   * The dedup key of a durable event (`<stream>/<id>`), or undefined when `ack` is not an ack key
   * (the event cannot be acknowledged; it is delivered all the same).
   */
  keyOf (ack: string, id: string | number): string | undefined {
    const target = this.#target(ack)
    return target === undefined ? undefined : `${target.stream}/${id}`
  }

  /** Records `key`; true when it was among the latest handed on (a duplicate, counted). */
  duplicate (key: string): boolean {
    if (!this.#window.seen(key)) return false
    this.#duplicates++
    return true
  }

  /** Adds an entry to acknowledge with the next {@link flush}. */
  add (ack: string, id: string | number): void {
    const target = this.#target(ack)
    if (target === undefined) return
    target.ids.push(String(id))
  }

  /** Sends the XACKs added since the last flush, once `after` (the batch's publishes) has resolved. */
  flush (after: Promise<void> | undefined): void {
    for (const target of this.#targets.values()) {
      if (target === null || target.ids.length === 0) continue
      const ids = target.ids
      target.ids = []
      this.#inFlight += ids.length
      const send = (): void => {
        target.redis.xack(target.stream, target.group, ...ids).then((n) => {
          this.#acked += n
          this.#settled(ids.length)
        }, () => {
          this.#ackFailed += ids.length
          this.#settled(ids.length)
        })
      }
      if (after === undefined) send()
      else void after.then(send)
    }
  }

  /** Undefined, or a promise that resolves once XACKs in flight are under half the limit. */
  drained (): Promise<void> | undefined {
    if (this.#inFlight < MAX_IN_FLIGHT) return undefined
    return new Promise((resolve) => this.#drainWaiters.push(resolve))
  }

  stats (): DurableStats {
    return { acked: this.#acked, ackFailed: this.#ackFailed, ackInFlight: this.#inFlight, duplicates: this.#duplicates }
  }

  /** Waits (a second at most) for the XACKs in flight, then disconnects. */
  async close (): Promise<void> {
    this.#closed = true
    const deadline = Date.now() + 1000
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    for (const redis of this.#connections.values()) redis.disconnect()
    for (const resolve of this.#drainWaiters.splice(0)) resolve()
  }

  #settled (count: number): void {
    this.#inFlight -= count
    if (this.#drainWaiters.length > 0 && this.#inFlight <= MAX_IN_FLIGHT / 2) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve()
    }
  }

  /** The target of an ack key, made at first sight (null: not an ack key, remembered as such). */
  #target (ack: string): Target | undefined {
    let target = this.#targets.get(ack)
    if (target === undefined) {
      const parsed = this.#closed ? undefined : parseAckKey(ack)
      target = parsed === undefined ? null : { stream: parsed.stream, group: parsed.group, redis: this.#connection(parsed.url), ids: [] }
      this.#targets.set(ack, target)
    }
    return target ?? undefined
  }

  #connection (url: string): Redis {
    let redis = this.#connections.get(url)
    if (redis === undefined) {
      redis = new Redis(url, {
        enableAutoPipelining: true,
        // Made at the first durable event: its first XACKs wait for the connection (bounded by
        // MAX_IN_FLIGHT); past a failed reconnect they fail, and are never re-sent: an entry not
        // acknowledged is only delivered again.
        enableOfflineQueue: true,
        maxRetriesPerRequest: 1,
        autoResendUnfulfilledCommands: false,
        retryStrategy: (attempt) => Math.min(20 * 2 ** (attempt - 1), 1000),
        connectionName: 'stagewire-stream-acker',
      })
      redis.on('error', () => {
        // Failed XACKs are counted; reconnecting is ioredis's.
      })
      this.#connections.set(url, redis)
    }
    return redis
  }
}
