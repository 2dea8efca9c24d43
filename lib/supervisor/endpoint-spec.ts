/**
 * The `endpoint` key of a `builtin:broadcaster` child: where its Phoenix endpoint listens, how
 * clients authenticate, which channel modules serve which topics, and its limits.
 *
 * ```json
 * { "id": "broadcaster", "module": "builtin:broadcaster", "subscribeTo": ["enrich"],
 *   "endpoint": { "port": 4000, "secretEnv": "STAGEWIRE_SECRET",
 *                 "channels": [["feed:*", "./channels/feed.js"]] } }
 * ```
 *
 * The spec is plain data (it crosses to the broadcaster's thread), so channel modules are named by
 * path and imported there; the secret is given as is, or as the name of an environment variable
 * (read here, so that a missing one is reported with the rest of the spec).
 * @internal
 */
import { Buffer } from 'node:buffer'
import { z } from 'zod'
import { OUTBOUND_POLICIES } from '../channels/outbound.js'
import type { OutboundPolicy } from '../channels/outbound.js'
import { TOKEN_SECRET_MIN_BYTES } from '../channels/token.js'
import { compileRoutes } from '../channels/topics.js'
const positiveInt = z.number().int().positive()
/** setTimeout's limit: a longer timer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The schema of `endpoint`; ranges match the `Endpoint` constructor's. */
export const endpointSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  path: z.string().regex(/^\/([^?#\s]*[^?#\s/])?$/, { error: 'must start with / and not end with one (e.g. "/socket")' }).optional(),
  secret: z.string().min(1).optional(),
  secretEnv: z.string().min(1).optional(),
  channels: z.array(z.tuple([z.string().min(1), z.string().min(1)])).min(1),
  idleTimeoutMs: positiveInt.max(MAX_TIMER_MS).optional(),
  maxFrameBytes: positiveInt.optional(),
  maxChannelsPerSocket: positiveInt.optional(),
  outboundLimitBytes: positiveInt.optional(),
  outboundPolicy: z.enum(OUTBOUND_POLICIES).optional(),
  mailboxSize: positiveInt.optional(),
  fanoutSliceSize: positiveInt.optional(),
  closeTimeoutMs: positiveInt.max(MAX_TIMER_MS).optional(),
  /** Serve the demo page at `/` (with a connect token of its own: for demos, off by default). */
  page: z.boolean().optional(),
  /**
   * Demand waits for the clients (default on): the broadcaster asks for more events only once no
   * client has more than `highWaterBytes` (default half of outboundLimitBytes) waiting, except
   * clients behind for longer than `graceMs` (default 1000), which are left to outboundPolicy.
   * `false`: demand follows the socket writes only, and slow clients drop by their policy.
   */
  backpressure: z.union([
    z.literal(false),
    z.strictObject({ highWaterBytes: positiveInt.optional(), graceMs: z.number().int().min(0).max(MAX_TIMER_MS).optional() }),
  ]).optional(),
})

/** What the broadcaster's thread receives: the endpoint's options with the secret read and modules resolved. */
export interface EndpointSettings {
  host?: string
  port?: number
  path?: string
  secret: string
  /** `[topic pattern, file: URL of the channel module]`, first match wins. */
  channels: Array<[string, string]>
  idleTimeoutMs?: number
  maxFrameBytes?: number
  maxChannelsPerSocket?: number
  outboundLimitBytes?: number
  outboundPolicy?: OutboundPolicy
  mailboxSize?: number
  fanoutSliceSize?: number
  closeTimeoutMs?: number
  page?: boolean
  backpressure?: false | { highWaterBytes?: number, graceMs?: number }
}

type Raw = z.infer<typeof endpointSchema>

/**
 * Checks what the schema cannot (one secret source, its length, the route patterns) and resolves
 * the channel modules. Problems go to `report`; returns undefined when there were any.
 */
export function buildEndpoint (
  raw: Raw,
  path: string,
  report: (path: string, message: string) => void,
  resolveModule: (spec: string, path: string) => string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): EndpointSettings | undefined {
  let ok = true
  const problem = (at: string, message: string): void => {
    ok = false
    report(at, message)
  }
  let secret: string | undefined
  if ((raw.secret === undefined) === (raw.secretEnv === undefined)) {
    problem(`${path}.secret`, `${path} needs exactly one of secret and secretEnv (the name of an environment variable holding it)`)
  } else if (raw.secretEnv !== undefined) {
    secret = env[raw.secretEnv]
    if (secret === undefined || secret === '') problem(`${path}.secretEnv`, `${path}.secretEnv names ${JSON.stringify(raw.secretEnv)}, which is not set in the environment`)
  } else {
    secret = raw.secret
  }
  if (secret !== undefined && Buffer.byteLength(secret) < TOKEN_SECRET_MIN_BYTES) {
    const where = raw.secretEnv !== undefined ? `the secret in ${raw.secretEnv}` : `${path}.secret`
    problem(`${path}.${raw.secretEnv !== undefined ? 'secretEnv' : 'secret'}`, `${where} must be at least ${TOKEN_SECRET_MIN_BYTES} bytes, got ${Buffer.byteLength(secret)}`)
  }
  try {
    compileRoutes(raw.channels.map(([pattern], i) => [pattern, i]))
  } catch (err) {
    problem(`${path}.channels`, (err as Error).message.replace(/\broutes\[/g, `${path}.channels[`))
  }
  const channels: Array<[string, string]> = []
  raw.channels.forEach(([pattern, module], i) => {
    const url = resolveModule(module, `${path}.channels[${i}][1]`)
    if (url === undefined) ok = false
    else channels.push([pattern, url])
  })
  if (!ok || secret === undefined) return undefined
  const { secretEnv: _env, secret: _secret, channels: _channels, ...limits } = raw
  return { ...limits, secret, channels }
}
