/**
 * The supervision-tree spec: plain data (an object or a JSON file) that
 * describes supervisors, their strategies and their children.
 *
 * Validation uses zod (a well-kept schema library) for the shape, with every
 * object strict so that a misspelt key is refused rather than ignored, and
 * turns zod's issues into messages that name the exact place and value:
 * `children[2].restart must be one of permanent|transient|temporary, got "always"`.
 *
 * The parsed spec has every default filled in and every module resolved to a
 * `file:` URL (relative paths are relative to the spec file, or to
 * `baseDir` for an object), so the rest of the runtime never guesses.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { z } from 'zod'
import { BUILTIN_NAMES, builtinModule } from '../builtins/index.js'
import { buildEndpoint, endpointSchema } from './endpoint-spec.js'
import { buildPubSub, pubsubSchema } from '../cluster/pubsub-spec.js'
import { SpecError, describeThrown } from '../errors.js'
import type { FunctionRef } from '../protocol.js'
import { CODEC_NAMES } from '../stage/codec/codec.js'
import type { CodecName } from '../stage/codec/codec.js'
import { STAGE_KEYS, buildStage, stageKeys } from './stage-spec.js'
import type { StageSpec } from './stage-spec.js'

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/

const id = z.string().regex(ID, { error: 'must be a name of letters, digits and _ . : - (not starting with . : -)' })
const restart = z.enum(['permanent', 'transient', 'temporary'])
const strategy = z.enum(['one_for_one', 'one_for_all', 'rest_for_one'])
/** Node's timers take at most 2^31 - 1 ms (~24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
const ms = z.number().int().positive().max(MAX_TIMER_MS)
const shutdown = z.union([ms, z.literal('brutal_kill'), z.literal('infinity')])

const workerSchema = z.strictObject({
  id,
  type: z.literal('worker').optional(),
  module: z.string().min(1),
  args: z.unknown().optional(),
  restart: restart.optional(),
  shutdown: shutdown.optional(),
  heartbeatMs: ms.optional(),
  heartbeatTimeoutMs: ms.optional(),
  statsMs: z.number().int().nonnegative().max(MAX_TIMER_MS).optional(),
  startTimeoutMs: ms.optional(),
  /** `builtin:broadcaster` only: its Phoenix endpoint (see endpoint-spec.ts). */
  endpoint: z.unknown().optional(),
  /** `builtin:broadcaster` only: its cluster adapter (see lib/cluster/pubsub-spec.ts). */
  pubsub: z.unknown().optional(),
  resourceLimits: z.strictObject({
    maxOldGenerationSizeMb: z.number().positive().optional(),
    maxYoungGenerationSizeMb: z.number().positive().optional(),
    codeRangeSizeMb: z.number().positive().optional(),
    stackSizeMb: z.number().positive().optional(),
  }).optional(),
  ...stageKeys,
})

const intensity = {
  maxRestarts: z.number().int().nonnegative().optional(),
  maxSeconds: z.number().positive().max(MAX_TIMER_MS / 1000).optional(),
}

const supervisorSchema = z.strictObject({
  id,
  type: z.literal('supervisor'),
  strategy: strategy.optional(),
  ...intensity,
  restart: restart.optional(),
  shutdown: shutdown.optional(),
  // Children are validated one by one below, so that each gets its own path.
  children: z.array(z.unknown()),
})

const dynamicSchema = z.strictObject({
  id,
  type: z.literal('dynamic_supervisor'),
  ...intensity,
  maxChildren: z.number().int().positive().optional(),
  restart: restart.optional(),
  shutdown: shutdown.optional(),
})

const rootSchema = z.strictObject({
  strategy: strategy.optional(),
  ...intensity,
  /** How batches cross between stage threads (see lib/stage/codec/). */
  codec: z.enum(CODEC_NAMES).optional(),
  children: z.array(z.unknown()),
})

/** How a supervisor restarts its children when one fails (OTP's strategies). */
export type Strategy = z.infer<typeof strategy>
/** When a child is restarted: always, only after a failure, or never. */
export type RestartType = z.infer<typeof restart>
/** A child's grace period on stop: ms, `brutal_kill`, or `infinity` (the default for supervisors). */
export type ShutdownSpec = z.infer<typeof shutdown>

/** A worker-thread actor, with every default filled in. */
export interface WorkerChildSpec {
  type: 'worker'
  /** The actor's id; for a thread of stages, the thread's name (a lone stage's thread is named after the stage). */
  id: string
  /** `file:` URL of the module (for stages: the first stage's). */
  module: string
  args: unknown
  /** Pipeline stages this thread hosts, in start order; absent for a plain actor. */
  stages?: StageSpec[]
  /** `thread: "main"`: the stages run in the host app's thread, without a worker (no isolation). */
  inThread?: boolean
  restart: RestartType
  shutdown: ShutdownSpec
  heartbeatMs: number
  heartbeatTimeoutMs: number
  statsMs: number
  startTimeoutMs: number
  resourceLimits: z.infer<typeof workerSchema>['resourceLimits']
}

/** Restart intensity: more than `maxRestarts` restarts within `maxSeconds` and the supervisor gives up. */
export interface Intensity {
  maxRestarts: number
  maxSeconds: number
}

/** A nested supervisor, with every default filled in. */
export interface SupervisorChildSpec extends Intensity {
  type: 'supervisor'
  id: string
  strategy: Strategy
  restart: RestartType
  shutdown: ShutdownSpec
  children: ChildSpec[]
}

/** A dynamic supervisor: starts with no children; children are added at run time. */
export interface DynamicSupervisorChildSpec extends Intensity {
  type: 'dynamic_supervisor'
  id: string
  maxChildren: number
  restart: RestartType
  shutdown: ShutdownSpec
}

/** Any child of a supervisor. */
export type ChildSpec = WorkerChildSpec | SupervisorChildSpec | DynamicSupervisorChildSpec

/** The root of a tree: a supervisor without an id of its own. */
export interface TreeSpec extends Intensity {
  strategy: Strategy
  /** Codec for batches between stage threads. */
  codec: CodecName
  children: ChildSpec[]
}

export type { StageSpec, SubscriptionSpec } from './stage-spec.js'

/** Defaults, written once. */
export const DEFAULTS = {
  strategy: 'one_for_one',
  maxRestarts: 3,
  maxSeconds: 5,
  restart: 'permanent',
  workerShutdownMs: 5000,
  heartbeatMs: 1000,
  heartbeatTimeoutMs: 5000,
  statsMs: 1000,
  startTimeoutMs: 10_000,
  /** Measured fastest for JSON-like payloads (benchmarks/RESULTS.md, codec). */
  codec: 'shape',
} as const

/** Where relative module paths are resolved from. */
export interface ParseOptions {
  /** Directory relative module paths are resolved against (default: the spec file's directory, else `process.cwd()`). */
  baseDir?: string
}

/**
 * Validates a tree spec and fills in its defaults.
 * @throws ERR_SPEC_INVALID naming the path and value of every problem found.
 */
export function parseTreeSpec (input: unknown, options: ParseOptions = {}): TreeSpec {
  const ctx = newCtx(options.baseDir)
  if (typeof input === 'object' && input !== null) {
    const nesting = nestingProblem((input as { children?: unknown }).children, 'children', new Map([[input, 'the root']]))
    if (nesting !== null) throw new SpecError(`invalid spec: ${nesting.message}`, nesting.path)
  }
  const root = check(rootSchema, input, '', ctx)
  let tree: TreeSpec | undefined
  if (root === undefined) {
    // Still report what is wrong with the children, so one run shows every problem.
    const children = typeof input === 'object' && input !== null ? (input as { children?: unknown }).children : undefined
    if (Array.isArray(children)) parseChildren(children, 'children', ctx)
  } else {
    tree = {
      strategy: root.strategy ?? DEFAULTS.strategy,
      maxRestarts: root.maxRestarts ?? DEFAULTS.maxRestarts,
      maxSeconds: root.maxSeconds ?? DEFAULTS.maxSeconds,
      codec: root.codec ?? DEFAULTS.codec,
      children: parseChildren(root.children, 'children', ctx),
    }
  }
  checkSubscriptions(ctx)
  if (ctx.problems.length > 0 || tree === undefined) {
    const [first] = ctx.problems
    throw new SpecError(`invalid spec: ${ctx.problems.map((p) => p.message).join('; ')}`, first?.path ?? '')
  }
  return tree
}

/**
 * Reads a JSON spec file and validates it; relative module paths are relative to the file.
 * @throws ERR_SPEC_INVALID when the file cannot be read or parsed, or the spec is invalid.
 */
export function loadTreeSpecFile (file: string): TreeSpec {
  const path = resolve(file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new SpecError(`cannot read spec file ${path}: ${describeThrown(err)}`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new SpecError(`spec file ${path} is not valid JSON: ${describeThrown(err)}`)
  }
  return parseTreeSpec(data, { baseDir: dirname(path) })
}

/**
 * Validates one child spec, e.g. for a dynamic supervisor's `startChild`.
 * `takenIds` are ids already in use in the runtime.
 * @throws ERR_SPEC_INVALID
 */
export function parseChildSpec (
  input: unknown,
  options: ParseOptions & { takenIds?: Iterable<string>, stages?: Iterable<StageSpec> } = {},
): ChildSpec {
  const ctx = newCtx(options.baseDir)
  for (const taken of options.takenIds ?? []) ctx.ids.set(taken, 'by a running child')
  for (const stage of options.stages ?? []) ctx.stages.set(stage.id, stage)
  if (typeof input === 'object' && input !== null) {
    const nesting = nestingProblem((input as { children?: unknown }).children, 'child.children', new Map([[input, 'child']]))
    if (nesting !== null) throw new SpecError(`invalid child spec: ${nesting.message}`, nesting.path)
  }
  const child = parseChild(input, 'child', ctx)
  checkSubscriptions(ctx)
  if (ctx.problems.length > 0 || child === undefined) {
    const [first] = ctx.problems
    throw new SpecError(`invalid child spec: ${ctx.problems.map((p) => p.message).join('; ')}`, first?.path ?? '')
  }
  return child
}

interface Problem { path: string, message: string }

/** How deep supervisors may nest; far beyond any real tree, and well within the validator's recursion. */
const MAX_NESTING = 100

/**
 * A supervisor that contains itself (an object spec can), or nesting deeper than {@link MAX_NESTING}:
 * checked before the schema, whose recursion would otherwise overflow the stack (a RangeError
 * instead of a SpecError). `ancestors`: the objects enclosing `children`, with their paths.
 */
function nestingProblem (children: unknown, path: string, ancestors: Map<object, string>): Problem | null {
  if (!Array.isArray(children)) return null
  if (ancestors.size > MAX_NESTING) {
    return { path, message: `supervisors nest more than ${MAX_NESTING} deep (at ${path.split('.').slice(0, 2).join('.')}...)` }
  }
  for (let i = 0; i < children.length; i++) {
    const child: unknown = children[i]
    if (typeof child !== 'object' || child === null) continue
    const at = `${path}[${i}]`
    const seen = ancestors.get(child)
    if (seen !== undefined) return { path: at, message: `${at} is ${seen} again: a supervisor cannot contain itself` }
    ancestors.set(child, at)
    const problem = nestingProblem((child as { children?: unknown }).children, `${at}.children`, ancestors)
    ancestors.delete(child)
    if (problem !== null) return problem
  }
  return null
}
interface Ctx {
  baseDir: string
  problems: Problem[]
  /** id → where it was first seen: ids are registry names, unique in the whole tree. */
  ids: Map<string, string>
  /** Stage id → spec, across the tree, for checking subscriptions. */
  stages: Map<string, StageSpec>
  /** Every subscription seen, with its path, checked once the whole tree is known. */
  subscriptions: Array<{ path: string, stage: StageSpec, index: number }>
  /** Thread name → path of the supervisor whose children use it. */
  threads: Map<string, string>
  /** Ids of children refused for problems of their own: a subscription to one is not a second problem. */
  refused: Set<string>
}

function newCtx (baseDir = process.cwd()): Ctx {
  return { baseDir, problems: [], ids: new Map(), stages: new Map(), subscriptions: [], threads: new Map(), refused: new Set() }
}

function parseChildren (list: unknown[], path: string, ctx: Ctx): ChildSpec[] {
  const children: ChildSpec[] = []
  /** Thread name → the worker child hosting it, within this supervisor. */
  const threads = new Map<string, WorkerChildSpec>()
  for (let i = 0; i < list.length; i++) {
    const at = `${path}[${i}]`
    const child = parseChild(list[i], at, ctx)
    if (child === undefined) {
      const id = (list[i] as { id?: unknown } | null)?.id
      if (typeof id === 'string') ctx.refused.add(id)
      continue
    }
    const thread = (list[i] as { thread?: unknown }).thread
    if (child.type === 'worker' && child.stages !== undefined && typeof thread === 'string') {
      const host = threads.get(thread)
      if (host !== undefined) {
        // Another stage of a thread already started in this supervisor: join it.
        for (const key of THREAD_KEYS) {
          if ((list[i] as Record<string, unknown>)[key] !== undefined) {
            ctx.problems.push({ path: `${at}.${key}`, message: `${at}.${key} belongs to thread ${JSON.stringify(thread)} as a whole: set it on its first stage (${host.stages?.[0]?.id ?? thread})` })
          }
        }
        host.stages?.push(...child.stages)
        continue
      }
      const elsewhere = ctx.threads.get(thread)
      if (elsewhere !== undefined && elsewhere !== path) {
        const owner = elsewhere === 'children' ? 'the root supervisor' : `the supervisor at ${elsewhere.replace(/\.children$/, '')}`
        ctx.problems.push({ path: `${at}.thread`, message: `${at}.thread ${JSON.stringify(thread)} is already used by stages of ${owner}; a thread's stages must share one supervisor` })
        continue
      }
      ctx.threads.set(thread, path)
      if (thread !== child.id) claimId(thread, `${at}.thread`, ctx, true)
      child.id = thread
      if (thread === 'main') child.inThread = true
      threads.set(thread, child)
    }
    children.push(child)
  }
  return children
}

/** True when following subscriptions upstream from `id` leads back to `id`. */
function reachesItself (id: string, ctx: Ctx): boolean {
  const seen = new Set<string>()
  const stack = [...(ctx.stages.get(id)?.subscribeTo.map((s) => s.producer) ?? [])]
  while (stack.length > 0) {
    const next = stack.pop() as string
    if (next === id) return true
    const upstream = ctx.stages.get(next)
    // A consumer produces nothing: a subscription to it is refused on its own, not as a cycle.
    if (seen.has(next) || upstream === undefined || upstream.kind === 'consumer') continue
    seen.add(next)
    for (const sub of upstream.subscribeTo) stack.push(sub.producer)
  }
  return false
}

/** Keys that configure a thread rather than one stage. */
const THREAD_KEYS = ['restart', 'shutdown', 'heartbeatMs', 'heartbeatTimeoutMs', 'statsMs', 'startTimeoutMs', 'resourceLimits']

/**
 * Every subscription names a stage that produces, partition subscriptions name their partition,
 * and no stage is its own upstream (a cycle would pass every event round it for ever).
 */
function checkSubscriptions (ctx: Ctx): void {
  for (const { path, stage, index } of ctx.subscriptions) {
    const sub = stage.subscribeTo[index]
    if (sub === undefined) continue
    const producer = ctx.stages.get(sub.producer)
    if (producer === undefined) {
      if (ctx.refused.has(sub.producer) && !ctx.ids.has(sub.producer)) continue
      ctx.problems.push({ path: `${path}.id`, message: `${path}.id names no stage in the tree: ${JSON.stringify(sub.producer)}` })
    } else if (producer.kind === 'consumer') {
      ctx.problems.push({ path: `${path}.id`, message: `${path}.id names a consumer, which has nothing to subscribe to: ${JSON.stringify(sub.producer)}` })
    } else if (producer.dispatcher.type === 'partition') {
      const { partitions } = producer.dispatcher
      if (sub.partition === undefined || sub.partition >= partitions) {
        ctx.problems.push({ path: `${path}.partition`, message: `${path}.partition must name one of the ${partitions} partitions of "${producer.id}" (0 to ${partitions - 1}), got ${show(sub.partition)}` })
      }
    } else if (sub.partition !== undefined) {
      ctx.problems.push({ path: `${path}.partition`, message: `${path}.partition is for subscriptions to a partition dispatcher; "${producer.id}" uses ${producer.dispatcher.type}` })
    }
  }
  const reported = new Set<string>()
  for (const { path, stage } of ctx.subscriptions) {
    if (reported.has(stage.id) || !reachesItself(stage.id, ctx)) continue
    reported.add(stage.id)
    ctx.problems.push({ path, message: `${path} makes a subscription cycle: "${stage.id}" would receive its own events back` })
  }
}

function parseChild (value: unknown, path: string, ctx: Ctx): ChildSpec | undefined {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined
  let child: ChildSpec | undefined
  if (type === undefined || type === 'worker') {
    const w = check(workerSchema, value, path, ctx)
    if (w === undefined) return undefined
    const module = resolveModule(w.module, `${join(path, 'module')}`, ctx)
    checkCloneable(w.args, join(path, 'args'), ctx)
    if (w.module === 'builtin:broadcaster') {
      broadcasterArgs(w, path, ctx)
    } else if (w.endpoint !== undefined) {
      ctx.problems.push({ path: join(path, 'endpoint'), message: `${join(path, 'endpoint')} is for module builtin:broadcaster, the stage that runs the endpoint` })
    }
    if (w.module !== 'builtin:broadcaster' && w.pubsub !== undefined) {
      ctx.problems.push({ path: join(path, 'pubsub'), message: `${join(path, 'pubsub')} is for module builtin:broadcaster, the stage that publishes to the other servers` })
    }
    let stages: StageSpec[] | undefined
    if (w.stage === undefined) {
      for (const key of STAGE_KEYS) {
        if ((w as Record<string, unknown>)[key] !== undefined) {
          ctx.problems.push({ path: join(path, key), message: `${join(path, key)} is for pipeline stages; set ${join(path, 'stage')} to producer, producer_consumer or consumer` })
        }
      }
    } else {
      const report = (at: string, message: string): void => { ctx.problems.push({ path: at, message }) }
      const stage = buildStage(w, module ?? '', path, report, (ref, at) => resolveFunction(ref, at, ctx))
      if (stage !== undefined) {
        stages = [stage]
        ctx.stages.set(stage.id, stage)
        for (let i = 0; i < stage.subscribeTo.length; i++) ctx.subscriptions.push({ path: `${path}.subscribeTo[${i}]`, stage, index: i })
      }
    }
    child = {
      type: 'worker',
      id: w.id,
      module: module ?? '',
      args: w.args,
      ...(stages !== undefined ? { stages } : {}),
      restart: w.restart ?? DEFAULTS.restart,
      shutdown: w.shutdown ?? DEFAULTS.workerShutdownMs,
      heartbeatMs: w.heartbeatMs ?? DEFAULTS.heartbeatMs,
      heartbeatTimeoutMs: w.heartbeatTimeoutMs ?? Math.max(DEFAULTS.heartbeatTimeoutMs, 3 * (w.heartbeatMs ?? DEFAULTS.heartbeatMs)),
      statsMs: w.statsMs ?? DEFAULTS.statsMs,
      startTimeoutMs: w.startTimeoutMs ?? DEFAULTS.startTimeoutMs,
      resourceLimits: w.resourceLimits,
    }
    if (child.heartbeatTimeoutMs <= child.heartbeatMs) {
      ctx.problems.push({ path: join(path, 'heartbeatTimeoutMs'), message: `${join(path, 'heartbeatTimeoutMs')} must be greater than heartbeatMs (${child.heartbeatMs}), got ${child.heartbeatTimeoutMs}` })
    }
  } else if (type === 'supervisor') {
    const s = check(supervisorSchema, value, path, ctx)
    if (s === undefined) return undefined
    claimId(s.id, path, ctx)
    return {
      type: 'supervisor',
      id: s.id,
      strategy: s.strategy ?? DEFAULTS.strategy,
      maxRestarts: s.maxRestarts ?? DEFAULTS.maxRestarts,
      maxSeconds: s.maxSeconds ?? DEFAULTS.maxSeconds,
      restart: s.restart ?? DEFAULTS.restart,
      shutdown: s.shutdown ?? 'infinity',
      children: parseChildren(s.children, join(path, 'children'), ctx),
    }
  } else if (type === 'dynamic_supervisor') {
    const d = check(dynamicSchema, value, path, ctx)
    if (d === undefined) return undefined
    child = {
      type: 'dynamic_supervisor',
      id: d.id,
      maxRestarts: d.maxRestarts ?? DEFAULTS.maxRestarts,
      maxSeconds: d.maxSeconds ?? DEFAULTS.maxSeconds,
      maxChildren: d.maxChildren ?? Number.POSITIVE_INFINITY,
      restart: d.restart ?? DEFAULTS.restart,
      shutdown: d.shutdown ?? 'infinity',
    }
  } else {
    ctx.problems.push({ path: join(path, 'type'), message: `${join(path, 'type')} must be one of worker|supervisor|dynamic_supervisor, got ${show(type)}` })
    return undefined
  }
  claimId(child.id, path, ctx)
  return child
}

/**
 * `builtin:broadcaster` is a consumer configured by `endpoint` rather than `args`: its settings are
 * checked here, with the rest of the spec, and become its args.
 */
function broadcasterArgs (w: { stage?: string, args?: unknown, endpoint?: unknown, pubsub?: unknown, subscribeTo?: unknown[] }, path: string, ctx: Ctx): void {
  // With no producers it still serves runtime.broadcast().
  w.subscribeTo ??= []
  if (w.stage === undefined) w.stage = 'consumer'
  else if (w.stage !== 'consumer') ctx.problems.push({ path: join(path, 'stage'), message: `${join(path, 'stage')} of builtin:broadcaster must be consumer (or left out), got ${show(w.stage)}` })
  if (w.args !== undefined) ctx.problems.push({ path: join(path, 'args'), message: `${join(path, 'args')}: builtin:broadcaster takes its settings from endpoint, not args` })
  const report = (p: string, message: string): void => { ctx.problems.push({ path: p, message }) }
  const pubsubRaw = w.pubsub === undefined ? undefined : check(pubsubSchema, w.pubsub, join(path, 'pubsub'), ctx)
  const pubsub = pubsubRaw === undefined ? undefined : buildPubSub(pubsubRaw, join(path, 'pubsub'), report)
  const at = join(path, 'endpoint')
  const raw = check(endpointSchema, w.endpoint, at, ctx)
  if (raw === undefined) return
  const endpoint = buildEndpoint(raw, at, report, (spec, p) => resolveModule(spec, p, ctx))
  if (endpoint !== undefined) w.args = pubsub === undefined ? { endpoint } : { endpoint, pubsub }
}

function claimId (childId: string, path: string, ctx: Ctx, exact = false): void {
  const at = exact ? path : join(path, 'id')
  const seen = ctx.ids.get(childId)
  if (seen !== undefined) {
    ctx.problems.push({ path: at, message: `${at} must be unique in the tree, got ${show(childId)} (already used ${seen})` })
  } else {
    ctx.ids.set(childId, `at ${at}`)
  }
}

/** `args` travel to a worker thread by structured clone: functions, symbols and the like cannot. */
function checkCloneable (value: unknown, path: string, ctx: Ctx): void {
  if (value === undefined) return
  try {
    structuredClone(value)
  } catch (err) {
    ctx.problems.push({ path, message: `${path} cannot be sent to a thread (it must be plain data): ${describeThrown(err)}` })
  }
}

/** `"./keys.js#byUser"` → the module's URL and the export's name. */
function resolveFunction (ref: string, path: string, ctx: Ctx): FunctionRef | undefined {
  const hash = ref.lastIndexOf('#')
  if (hash <= 0 || hash === ref.length - 1) {
    ctx.problems.push({ path, message: `${path} must name a function as "./module.js#exportName", got ${show(ref)}` })
    return undefined
  }
  const url = resolveModule(ref.slice(0, hash), path, ctx)
  return url === undefined ? undefined : { url, name: ref.slice(hash + 1) }
}

function resolveModule (spec: string, path: string, ctx: Ctx): string | undefined {
  if (spec.startsWith('builtin:')) {
    const url = builtinModule(spec.slice('builtin:'.length))
    if (url === undefined) ctx.problems.push({ path, message: `${path} names no built-in module: ${show(spec)} (built-ins: ${BUILTIN_NAMES.map((n) => `builtin:${n}`).join(', ')})` })
    return url
  }
  let file: string
  if (spec.startsWith('file:')) {
    try {
      file = fileURLToPath(spec)
    } catch (err) {
      ctx.problems.push({ path, message: `${path} is not a usable file: URL: ${show(spec)} (${describeThrown(err)})` })
      return undefined
    }
  } else if (spec.includes(':') && !isAbsolute(spec)) {
    ctx.problems.push({ path, message: `${path} must be a file path, a file: URL or builtin:<name>, got ${show(spec)}` })
    return undefined
  } else {
    file = resolve(ctx.baseDir, spec)
  }
  if (!existsSync(file)) {
    ctx.problems.push({ path, message: `${path} names no file: ${show(spec)} (resolved to ${file})` })
    return undefined
  }
  return pathToFileURL(file).href
}

/** Runs a zod schema and records its issues as problems with our wording. */
function check<T extends z.ZodType> (schema: T, value: unknown, path: string, ctx: Ctx): z.infer<T> | undefined {
  const result = schema.safeParse(value, { reportInput: true })
  if (result.success) return result.data
  for (const issue of result.error.issues) {
    const where = join(path, ...issue.path.map(String))
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) ctx.problems.push({ path: join(where, key), message: `${join(where, key)} is not a known key` })
    } else {
      ctx.problems.push({ path: where, message: describeIssue(issue, where) })
    }
  }
  return undefined
}

function describeIssue (issue: z.core.$ZodIssue, where: string): string {
  const name = where === '' ? 'the spec' : where
  const input = (issue as { input?: unknown }).input
  switch (issue.code) {
    case 'invalid_value':
      return `${name} must be one of ${issue.values.map((v) => String(v)).join('|')}, got ${show(input)}`
    case 'invalid_type':
      if (input === undefined) return `${name} is required`
      return `${name} must be ${article(issue.expected)}, got ${show(input)}`
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return `${name} must not be empty`
      return `${name} must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}, got ${show(input)}`
    case 'too_big':
      return `${name} must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}, got ${show(input)}`
    case 'invalid_union':
      if (where.endsWith('dispatcher.type')) {
        const type = typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : input
        return `${name} must be one of demand|broadcast|partition, got ${show(type)}`
      }
      return `${name} must be a positive integer (ms), "brutal_kill" or "infinity", got ${show(input)}`
    case 'invalid_format':
      return `${name} ${issue.message}, got ${show(input)}`
    default:
      return `${name}: ${issue.message}`
  }
}

function article (expected: string): string {
  switch (expected) {
    case 'int': return 'an integer'
    case 'object': return 'an object'
    case 'array': return 'an array'
    default: return `a ${expected}`
  }
}

function join (path: string, ...keys: string[]): string {
  let out = path
  for (const key of keys) {
    if (/^\d+$/.test(key)) out += `[${key}]`
    else out = out === '' ? key : `${out}.${key}`
  }
  return out
}

function show (value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
