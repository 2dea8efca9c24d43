/**
 * Scenario `spec FILE`: a user's own tree under load. The tree is started from its spec file, a
 * feed is pushed into its first producer (or `producer`): the built-in market-data generator, or a
 * recording replayed in a loop (`replay`), paced at `rate` events/s or as fast as the tree takes
 * (`'max'`: the feeder waits for `drain` whenever push() says false). Events are pushed as the demo
 * pushes them: payload `{ seq, data }` on topic `feed:<key>`.
 *
 * Per stage, over the window after the warm-up (from `runtime.stages()` sampled every 100 ms and
 * `runtime.metrics()`): events handled per second, buffer depth (mean, max), pending demand (mean),
 * queued (max), push → stage latency (p50, p99; since the start), dropped and lost. Figures are
 * flat keys `stage.<id>.<figure>`. Then the feed stops and the run waits until no stage holds an
 * event, so that `pushed` can be compared with what the producer received and what was dropped.
 *
 * The parent gives the runs a random secret for every endpoint whose `secretEnv` is not set
 * ({@link generatedSecrets}).
 * @internal
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Replay } from '../demo/replay.js'
import { FeedGenerator } from '../demo/generator.js'
import type { FeedEvent } from '../demo/feed.js'
import { InvalidArgumentError, SpecError } from '../errors.js'
import { start } from '../runtime.js'
import type { StageInfo } from '../stage/wiring.js'
import { HeapWatch, sleep } from './common.js'
import type { RunResult } from './harness.js'

/** Options of the scenario. */
export interface SpecOptions {
  /** The tree's spec file, absolute. */
  spec: string
  /** The producer to push into (default: the first producer of the tree). */
  producer?: string
  /** Replay this recording (in a loop) instead of the generator. */
  replay?: { file: string, key: string, time?: string }
  /** Events/s (the generator), 'max', or 'recorded' (a replay at its recorded pace). */
  rate: number | 'max' | 'recorded'
  /** Keys of the generated feed. */
  keys: number
  seconds: number
  warmup: number
}

export const SPEC_CONTENDERS = ['stagewire'] as const

const SAMPLE_MS = 100
const DRAIN_MS = 15_000

interface Gauge { sum: number, n: number, max: number }

async function specRun (o: SpecOptions): Promise<RunResult> {
  const rt = await start(o.spec)
  const controller = new AbortController()
  try {
    const heap = new HeapWatch(rt)
    const stages = (): StageInfo[] => rt.stages()
    const producer = o.producer ?? stages().find((s) => s.kind === 'producer')?.id
    if (producer === undefined) throw new SpecError(`${o.spec}: the tree has no producer stage to push into`)
    if (!stages().some((s) => s.id === producer && s.kind === 'producer')) {
      const producers = stages().filter((s) => s.kind === 'producer').map((s) => s.id)
      throw new InvalidArgumentError(`--producer: ${o.spec} has no producer stage ${JSON.stringify(producer)} (its producers: ${producers.join(', ')})`)
    }
    const speed = o.rate === 'max' ? 'max' as const : 1
    const source: AsyncIterable<FeedEvent> = o.replay !== undefined
      ? new Replay(o.replay.file, { key: o.replay.key, ...(o.replay.time !== undefined ? { time: o.replay.time } : {}), speed: o.rate === 'max' ? 'max' : 1, loop: true, signal: controller.signal })
      : new FeedGenerator({ keys: o.keys, rate: typeof o.rate === 'number' ? o.rate : 1000, speed, signal: controller.signal })
    // Nothing subscribed: push() would say false for ever once the buffer is half full, and no drain would come.
    if (!stages().some((s) => s.subscribedTo.some((sub) => sub.producer === producer))) {
      throw new SpecError(`${o.spec}: no stage subscribes to the producer "${producer}": nothing would take its events`)
    }
    const { push } = rt.pusher(producer)
    let pushed = 0
    let refused = 0
    const feeding = (async () => {
      let seq = 0
      for await (const e of source) {
        pushed++
        if (!push({ seq: ++seq, data: e.event }, { topic: `feed:${e.key}` })) {
          refused++
          // Or the end of the window: a pipeline that stopped taking must not hang the run.
          await new Promise<void>((resolve) => {
            const done = (): void => { rt.off('drain', done); controller.signal.removeEventListener('abort', done); resolve() }
            rt.once('drain', done)
            controller.signal.addEventListener('abort', done, { once: true })
          })
        }
        if (controller.signal.aborted) break
      }
    })()
    await sleep(o.warmup * 1000)
    const before = new Map(stages().map((s) => [s.id, s.handled]))
    const p0 = pushed
    const gauges = new Map<string, { buffered: Gauge, demand: Gauge, queued: Gauge }>()
    const sample = (): void => {
      for (const s of stages()) {
        let g = gauges.get(s.id)
        if (g === undefined) gauges.set(s.id, g = { buffered: gauge(), demand: gauge(), queued: gauge() })
        add(g.buffered, s.buffered)
        add(g.demand, s.demand)
        add(g.queued, s.queued)
      }
    }
    const t0 = performance.now()
    const sampler = setInterval(sample, SAMPLE_MS)
    await sleep(o.seconds * 1000)
    clearInterval(sampler)
    const windowS = (performance.now() - t0) / 1000
    const after = stages()
    const pushedInWindow = pushed - p0
    controller.abort()
    await feeding
    // A replay none of whose lines is an event (a wrong --key): a run of zeros that "adds up" would say nothing.
    if (pushed === 0 && o.replay !== undefined) {
      throw new InvalidArgumentError(`--replay ${o.replay.file}: no line has both a usable key "${o.replay.key}" and a time (field "${o.replay.time ?? 'time'}" or a "<unix-seconds>: " prefix): nothing was pushed`)
    }
    // Wait until nothing is held anywhere (or the drain time is up).
    const deadline = performance.now() + DRAIN_MS
    while (performance.now() < deadline && stages().some((s) => s.buffered > 0 || s.queued > 0 || s.running > 0)) await sleep(20)
    await sleep(50)
    const m = rt.metrics()
    const extra: Record<string, number> = {}
    for (const s of after) {
      const prefix = `stage.${s.id}.`
      const g = gauges.get(s.id)
      extra[`${prefix}handled_per_s`] = (s.handled - (before.get(s.id) ?? 0)) / windowS
      if (g !== undefined) {
        extra[`${prefix}buffered_mean`] = g.buffered.sum / Math.max(1, g.buffered.n)
        extra[`${prefix}buffered_max`] = g.buffered.max
        extra[`${prefix}demand_mean`] = g.demand.sum / Math.max(1, g.demand.n)
        extra[`${prefix}queued_max`] = g.queued.max
      }
      const sm = m.stages[s.id]
      if (sm !== undefined) {
        extra[`${prefix}latency_p50_ms`] = sm.latency.p50
        extra[`${prefix}latency_p99_ms`] = sm.latency.p99
        extra[`${prefix}dropped`] = sm.dropped
        extra[`${prefix}lost`] = sm.lost
        extra[`${prefix}handled`] = sm.handled
      }
    }
    const end = stages()
    const dropped = Object.values(m.dropped).reduce((a, b) => a + b, 0)
    const lost = Object.values(m.lost).reduce((a, b) => a + b, 0)
    return {
      value: pushedInWindow / windowS,
      extra: {
        ...extra,
        pushed,
        refused,
        received_by_producer: end.find((s) => s.id === producer)?.received ?? 0,
        dropped,
        lost,
        held: end.reduce((a, s) => a + s.buffered + s.queued, 0),
        ...heap.stop(),
      },
    }
  } finally {
    controller.abort()
    await rt.destroy()
  }
}

function gauge (): Gauge { return { sum: 0, n: 0, max: 0 } }
function add (g: Gauge, v: number): void {
  g.sum += v
  g.n++
  if (v > g.max) g.max = v
}

/**
 * A random secret for every endpoint of the tree whose `secretEnv` names a variable that is not
 * set (or empty), as `stagewire demo` does: the bench has no client that needs to know the secret,
 * and the tree would not start without one. Returns the variables to set for the runs.
 */
export function generatedSecrets (specFile: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let tree: unknown
  try {
    tree = JSON.parse(readFileSync(specFile, 'utf8'))
  } catch {
    return {} // the run says what is wrong with the file
  }
  const out: Record<string, string> = {}
  const walk = (value: unknown, key: string): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, '')
    } else if (typeof value === 'object' && value !== null) {
      const name = (value as { secretEnv?: unknown }).secretEnv
      if (key === 'endpoint' && typeof name === 'string' && name !== '' && (env[name] ?? '') === '') out[name] = randomBytes(32).toString('base64url')
      for (const [k, v] of Object.entries(value)) walk(v, k)
    }
  }
  walk(tree, '')
  return out
}

/** Runs the tree once (in the child process). */
export const contenders: Record<string, (o: SpecOptions) => Promise<RunResult>> = {
  stagewire: specRun,
}
