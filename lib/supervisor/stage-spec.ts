/**
 * The stage part of a tree spec: the keys a worker child takes when it is a
 * pipeline stage, their defaults, and the checks that span children
 * (a subscription names a producer that exists; a thread is shared only
 * within one supervisor).
 *
 * ```json
 * { "id": "enrich", "stage": "producer_consumer", "module": "./enrich.js", "thread": "ingest",
 *   "subscribeTo": [{ "id": "source", "maxDemand": 1000, "minDemand": 500, "cancel": "permanent" }],
 *   "dispatcher": { "type": "partition", "partitions": 4, "key": "./keys.js#byUser" },
 *   "bufferSize": 10000, "bufferKeep": "last" }
 * ```
 * @internal
 */
import { z } from 'zod'
import type { DispatcherSpec, FunctionRef, TasksSpec } from '../protocol.js'
import { buildQueue, queueSchema, streamSourceModule } from '../queue/stream-spec.js'
import type { StreamQueueSettings } from '../queue/stream-spec.js'

const positiveInt = z.number().int().positive()

/**
 * One entry of `subscribeTo`: a producer's id, or the id with options.
 * A bare id is read as `{ id }` first, so that problems are reported against the object's keys.
 */
export const subscriptionSchema = z.preprocess((v) => typeof v === 'string' ? { id: v } : v, z.strictObject({
  id: z.string().min(1),
  maxDemand: positiveInt.optional(),
  minDemand: z.number().int().nonnegative().optional(),
  cancel: z.enum(['permanent', 'transient', 'temporary']).optional(),
  selector: z.string().min(1).optional(),
  partition: z.number().int().nonnegative().optional(),
}))

/** `dispatcher`: a name (read as `{ type: name }`), or an object with options. */
export const dispatcherSchema = z.preprocess((v) => typeof v === 'string' ? { type: v } : v, z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('demand'), spread: z.boolean().optional() }),
  z.strictObject({ type: z.literal('broadcast') }),
  z.strictObject({
    type: z.literal('partition'),
    partitions: positiveInt,
    key: z.string().min(1).optional(),
    hash: z.string().min(1).optional(),
  }),
]))

/** The keys a worker child takes when it is a stage. */
export const stageKeys = {
  stage: z.enum(['producer', 'producer_consumer', 'consumer', 'consumer_supervisor']).optional(),
  thread: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, { error: 'must be a name of letters, digits and _ . : -' }).optional(),
  subscribeTo: z.array(subscriptionSchema).optional(),
  dispatcher: dispatcherSchema.optional(),
  bufferSize: z.number().int().nonnegative().optional(),
  bufferKeep: z.enum(['first', 'last']).optional(),
  highWaterMark: positiveInt.optional(),
  /** Producers: where pushed events wait, in memory (default) or in a Redis stream (lib/queue/stream-spec.ts). */
  queue: queueSchema.optional(),
  /** consumer_supervisor: where its tasks run and how often a failed one is retried. */
  tasks: z.strictObject({
    runner: z.enum(['inline', 'piscina']).optional(),
    maxRetries: z.number().int().nonnegative().optional(),
    maxThreads: positiveInt.optional(),
  }).optional(),
}

/** The stage keys, by name: a child that is not a stage must not use them. */
export const STAGE_KEYS = Object.keys(stageKeys).filter((k) => k !== 'stage')

/** A consumer's subscription, with every default filled in. */
export interface SubscriptionSpec {
  /** The producer's stage id. */
  producer: string
  maxDemand: number
  minDemand: number
  cancel: 'permanent' | 'transient' | 'temporary'
  selector?: FunctionRef
  partition?: number
}

/** One pipeline stage, with every default filled in. */
export interface StageSpec {
  id: string
  kind: 'producer' | 'producer_consumer' | 'consumer' | 'consumer_supervisor'
  /** `file:` URL of the stage module. */
  module: string
  args: unknown
  subscribeTo: SubscriptionSpec[]
  dispatcher: DispatcherSpec
  bufferSize: number
  bufferKeep: 'first' | 'last'
  /** Events pushed and not yet taken by consumers past which `push()` returns false. */
  highWaterMark: number
  /** consumer_supervisor only. */
  tasks?: TasksSpec
  /** A producer with a durable queue: its stream (its `module` is then the stream reader, its `args` these). */
  queue?: StreamQueueSettings
}

/** GenStage's defaults, and ours where GenStage has none. */
export const STAGE_DEFAULTS = {
  maxDemand: 1000,
  bufferSize: 10_000,
  bufferKeep: 'last',
  cancel: 'permanent',
} as const

type Raw = z.infer<z.ZodObject<typeof stageKeys>>

/** Reports a problem at a path; returns nothing useful. */
export type Report = (path: string, message: string) => void

/**
 * Builds a {@link StageSpec} from a validated worker child.
 * `resolveFn` turns `"./file.js#name"` into a {@link FunctionRef}, reporting problems itself.
 */
export function buildStage (
  raw: Raw & { id: string, args?: unknown, module?: string },
  module: string,
  path: string,
  report: Report,
  resolveFn: (ref: string, path: string) => FunctionRef | undefined,
): StageSpec | undefined {
  const kind = raw.stage
  if (kind === undefined) return undefined
  const subscribeTo: SubscriptionSpec[] = []
  const list = raw.subscribeTo ?? []
  if (kind === 'producer' && list.length > 0) report(`${path}.subscribeTo`, `${path}.subscribeTo must be empty for a producer, which subscribes to nothing`)
  if (kind !== 'producer' && raw.subscribeTo === undefined) report(`${path}.subscribeTo`, `${path}.subscribeTo is required for a ${kind}`)
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]
    const at = `${path}.subscribeTo[${i}]`
    if (entry === undefined) continue
    const o = entry
    const maxDemand = o.maxDemand ?? STAGE_DEFAULTS.maxDemand
    const minDemand = o.minDemand ?? Math.floor(maxDemand / 2)
    if (minDemand >= maxDemand) report(`${at}.minDemand`, `${at}.minDemand must be less than maxDemand (${maxDemand}), got ${minDemand}`)
    const sub: SubscriptionSpec = { producer: o.id, maxDemand, minDemand, cancel: o.cancel ?? STAGE_DEFAULTS.cancel }
    if (o.selector !== undefined) {
      const fn = resolveFn(o.selector, `${at}.selector`)
      if (fn !== undefined) sub.selector = fn
    }
    if (o.partition !== undefined) sub.partition = o.partition
    if (o.id === raw.id) report(`${at}.id`, `${at}.id must name another stage, got its own id ${JSON.stringify(o.id)}`)
    subscribeTo.push(sub)
  }
  let dispatcher: DispatcherSpec = { type: 'demand' }
  const d = raw.dispatcher
  if (d !== undefined && kind === 'consumer') report(`${path}.dispatcher`, `${path}.dispatcher is for producers and producer_consumers, not a consumer`)
  if (d?.type === 'broadcast') dispatcher = { type: 'broadcast' }
  else if (d?.type === 'demand') dispatcher = { type: 'demand', spread: d.spread ?? false }
  else if (d?.type === 'partition') {
    if ((d.key === undefined) === (d.hash === undefined)) {
      report(`${path}.dispatcher`, `${path}.dispatcher needs exactly one of key or hash ("./module.js#function")`)
    } else {
      const by = d.key !== undefined ? 'key' : 'hash'
      const fn = resolveFn((d.key ?? d.hash) as string, `${path}.dispatcher.${by}`)
      if (fn !== undefined) dispatcher = { type: 'partition', partitions: d.partitions, by, fn }
    }
  }
  if (raw.tasks !== undefined && kind !== 'consumer_supervisor') report(`${path}.tasks`, `${path}.tasks is for a consumer_supervisor, not a ${kind}`)
  let queue: StreamQueueSettings | undefined
  if (raw.queue !== undefined) {
    if (kind !== 'producer') {
      report(`${path}.queue`, `${path}.queue is for producers (where pushed events wait), not a ${kind}`)
    } else {
      queue = buildQueue(raw.queue)
      // The stream is the producer's source: the module is the stream reader, whatever pushes.
      if (queue !== undefined && raw.module !== 'builtin:queue') {
        report(`${path}.module`, `${path}.module must be "builtin:queue" with a redis-streams queue (the stream is the producer), got ${JSON.stringify(raw.module)}`)
      }
      if (queue !== undefined && raw.args !== undefined) report(`${path}.args`, `${path}.args: a redis-streams queue takes its settings from queue, not args`)
    }
  }
  const bufferSize = raw.bufferSize ?? STAGE_DEFAULTS.bufferSize
  const tasks: TasksSpec | undefined = kind === 'consumer_supervisor'
    ? { runner: raw.tasks?.runner ?? 'inline', maxRetries: raw.tasks?.maxRetries ?? 0, maxThreads: raw.tasks?.maxThreads ?? 2 }
    : undefined
  return {
    id: raw.id,
    kind,
    module: queue !== undefined ? streamSourceModule() : module,
    args: queue ?? raw.args,
    subscribeTo,
    dispatcher,
    bufferSize,
    bufferKeep: raw.bufferKeep ?? STAGE_DEFAULTS.bufferKeep,
    highWaterMark: raw.highWaterMark ?? Math.max(1, Math.floor(bufferSize / 2)),
    ...(tasks !== undefined ? { tasks } : {}),
    ...(queue !== undefined ? { queue } : {}),
  }
}
