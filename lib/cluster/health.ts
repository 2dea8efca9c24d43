/**
 * Health of a broadcaster (its endpoint and its cluster adapter) and of a runtime (its broadcasters).
 *
 * The rule that matters: nothing says `ok` while broadcasts are being lost. A broadcaster whose
 * adapter is down still serves its own clients, so it is `degraded` (not `down`), and its `/health`
 * answers 503 so that a probe that only reads the status code does not see green either.
 */
import type { PubSubStats } from './redis-pubsub.js'

/** `ok`: everything delivers; `degraded`: some broadcasts are not delivered everywhere; `down`: nothing is. */
export type HealthStatus = 'ok' | 'degraded' | 'down'

/** The adapter of a broadcaster with no `pubsub` (or `adapter: 'local'`): always up, nothing leaves the server. */
export interface LocalPubSubHealth {
  adapter: 'local'
  status: 'up'
}

/** What a broadcaster answers to `{ op: 'health' }`. */
export interface BroadcasterHealth {
  status: HealthStatus
  endpoint: { status: 'ok', connections: number, channels: number }
  pubsub: LocalPubSubHealth | PubSubStats
}

/** A durable queue's writer (the main thread's XADDs): `degraded` while its Redis is not connected, since pushes then fail. */
export interface QueueHealth {
  status: 'ok' | 'degraded'
  queue: { stage: string, stream: string, group: string, redis: 'up' | 'down', lastError: string | null }
}

/** What `runtime.health()` resolves with. */
export interface RuntimeHealth {
  /** `ok` when every component is; `down` when the runtime is not running or nothing answers; else `degraded`. */
  status: HealthStatus
  /**
   * By broadcaster id (one that did not answer, restarting or stuck, is `down` with the error), and
   * `queue:<producer>` for each durable queue.
   */
  components: Record<string, BroadcasterHealth | QueueHealth | { status: 'down', error: string }>
}

/** A broadcaster's health from its endpoint's counts and its adapter's stats (undefined: local). */
export function broadcasterHealth (connections: number, channels: number, pubsub: PubSubStats | undefined): BroadcasterHealth {
  return {
    status: pubsub === undefined || pubsub.status === 'up' ? 'ok' : 'degraded',
    endpoint: { status: 'ok', connections, channels },
    pubsub: pubsub ?? { adapter: 'local', status: 'up' },
  }
}

/** The runtime's status from its components' (none: `ok`, the runtime has nothing to deliver). */
export function combineHealth (running: boolean, components: RuntimeHealth['components']): RuntimeHealth {
  const statuses = Object.values(components).map((c) => c.status)
  let status: HealthStatus
  if (!running) status = 'down'
  else if (statuses.every((s) => s === 'ok')) status = 'ok'
  else if (statuses.every((s) => s === 'down')) status = 'down'
  else status = 'degraded'
  return { status, components }
}
