/**
 * The `pubsub` key of a `builtin:broadcaster` child: how its broadcasts reach the other servers.
 *
 * ```json
 * { "id": "broadcaster", "module": "builtin:broadcaster", "subscribeTo": ["enrich"],
 *   "endpoint": { "port": 4000, "secretEnv": "STAGEWIRE_SECRET", "channels": [["feed:*", "./feed.js"]] },
 *   "pubsub": { "adapter": "redis", "url": "redis://127.0.0.1:6379", "prefix": "myapp:" } }
 * ```
 *
 * It sits beside `endpoint`, not inside it: the endpoint is one server's sockets and knows nothing of
 * where broadcasts come from (lib/channels/endpoint.ts), while `pubsub` is the broadcaster's link to
 * the other servers. `{ "adapter": "local" }` (or no key) keeps broadcasts on this server.
 * @internal
 */
import { z } from 'zod'

/** The prefix of the Redis channel when the spec names none. */
export const DEFAULT_PREFIX = 'stagewire:'
/** How long the broadcaster's start waits for Redis before it starts with the adapter down. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000
/** Publishes awaiting Redis's answer past which the broadcaster stops asking for events. */
export const DEFAULT_MAX_IN_FLIGHT = 10_000
/** setTimeout's limit: a longer timer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

const redisUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== ''
  } catch {
    return false
  }
}, { error: (issue) => `must be a redis:// or rediss:// URL with a host (e.g. "redis://127.0.0.1:6379"), got ${JSON.stringify(issue.input)}` })

/** The schema of `pubsub`; which keys go with which adapter is checked by {@link buildPubSub}. */
export const pubsubSchema = z.strictObject({
  adapter: z.enum(['local', 'redis']),
  url: redisUrl.optional(),
  /** Names the Redis channel (`<prefix>broadcast`): servers with the same prefix form one cluster. */
  prefix: z.string().regex(/^[^\s*?[\]]+$/, { error: 'must be a non-empty string without spaces or glob characters (* ? [ ])' }).optional(),
  connectTimeoutMs: z.number().int().positive().max(MAX_TIMER_MS).optional(),
  maxInFlight: z.number().int().positive().optional(),
})

/** What the broadcaster's thread receives: the Redis adapter's settings, defaults filled in. */
export interface RedisPubSubSettings {
  adapter: 'redis'
  url: string
  prefix: string
  connectTimeoutMs: number
  maxInFlight: number
}

/**
 * Checks the keys against the adapter and fills in the defaults. `local` means no adapter: returns
 * undefined, as it does when there were problems (reported to `report`).
 */
export function buildPubSub (raw: z.infer<typeof pubsubSchema>, path: string, report: (path: string, message: string) => void): RedisPubSubSettings | undefined {
  if (raw.adapter === 'local') {
    for (const key of ['url', 'prefix', 'connectTimeoutMs', 'maxInFlight'] as const) {
      if (raw[key] !== undefined) report(`${path}.${key}`, `${path}.${key} is for adapter "redis"; adapter "local" keeps broadcasts on this server and takes no settings`)
    }
    return undefined
  }
  if (raw.url === undefined) {
    report(`${path}.url`, `${path}.url is required for adapter "redis" (e.g. "redis://127.0.0.1:6379")`)
    return undefined
  }
  return {
    adapter: 'redis',
    url: raw.url,
    prefix: raw.prefix ?? DEFAULT_PREFIX,
    connectTimeoutMs: raw.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxInFlight: raw.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  }
}
