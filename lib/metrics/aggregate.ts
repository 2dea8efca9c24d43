/**
 * The main thread's sum of everything measured: what {@link Runtime.metrics} returns and what
 * `/metrics` exposes.
 *
 *   threads' reports (deltas) ──add()──┐
 *   telemetry: stage:dropped ──────────┤     MetricsAggregate ──snapshot(stages, pushed)──► RuntimeMetrics
 *              child:restarted ────────┘     (latency histograms, counters)
 *   runtime.stages() (shared memory: buffers, demand, losses) ──────┘
 *
 * Counters start at zero when the runtime starts and only grow; latency histograms hold every
 * value since then.
 * @internal
 */
import { LatencyHistogram } from './latency.js'
import type { LatencySummary } from './latency.js'
import type { MetricsReport } from './thread-metrics.js'
import type { StageInfo } from '../stage/wiring.js'

/** One stage's figures in {@link RuntimeMetrics}. */
export interface StageMetrics {
  /** Whether a thread runs it now. */
  up: boolean
  /** Events that reached it, handed to its callback (or taken by dispatch, for a producer), sent downstream (this instance: a restart starts them from 0). */
  received: number
  handled: number
  emitted: number
  /** Events in its buffer now (producers, producer-consumers). */
  buffered: number
  /** Events received and waiting for its callback now. */
  queued: number
  /** Downstream demand not yet met, now. */
  demand: number
  /** Events it dropped, all reasons, since the runtime started. */
  dropped: number
  /** Events lost inside crashed instances of it, since the runtime started. */
  lost: number
  /**
   * Push → this stage latency (as events reach its callback; for a producer, as pushed events reach
   * its thread), ms. Batches of more than 16 events are sampled (16 weighted samples, see
   * lib/stage/stage.ts): counts are exact, min and max are the samples'.
   */
  latency: LatencySummary
}

/** What {@link Runtime.metrics} returns: plain data (JSON-able). Counts since the runtime started. */
export interface RuntimeMetrics {
  /** Events accepted by `push()` / `pushMany()`. */
  pushed: number
  /** Events broadcasters handed to their endpoint's fan-out. */
  dispatched: number
  /** Deliveries: frames of pushed events written to a subscriber's socket (one event, 3 subscribers: 3). */
  delivered: number
  /** Events dropped, by reason (`buffer_full`, `no_producer`, `task_failed`, `unencodable`, `undeliverable`). */
  dropped: Record<string, number>
  /** Deliveries dropped by an endpoint's outbound policy for a slow client, by reason (`dropped_oldest`, `conflated`, ...). */
  deliveriesDropped: Record<string, number>
  /** Events lost inside stages whose thread ended, by stage. */
  lost: Record<string, number>
  /** Restarts, by child id. */
  restarts: Record<string, number>
  /** Push → socket write latency of deliveries, ms. */
  latency: LatencySummary
  /** Per pipeline stage, by id. */
  stages: Record<string, StageMetrics>
}

/** @internal */
export class MetricsAggregate {
  /** Push → socket write. */
  readonly delivery = new LatencyHistogram()
  /** Push → stage, by stage id. */
  readonly stageLatency = new Map<string, LatencyHistogram>()
  dispatched = 0
  delivered = 0
  readonly dropped: Record<string, number> = {}
  readonly droppedByStage: Record<string, number> = {}
  readonly deliveriesDropped: Record<string, number> = {}
  readonly restarts: Record<string, number> = {}

  /**
   * Adds a thread's report.
   * @throws ERR_PROTOCOL when a latency snapshot in it is malformed; what came before it in the report is kept.
   */
  add (report: MetricsReport): void {
    this.dispatched += report.dispatched
    this.delivered += report.delivered
    addCounts(this.deliveriesDropped, report.deliveryDrops)
    if (report.delivery !== undefined) this.delivery.merge(report.delivery)
    for (const [stage, snapshot] of Object.entries(report.stages)) this.latencyOf(stage).merge(snapshot)
  }

  /** A stage's push → stage histogram (made on first use). */
  latencyOf (stage: string): LatencyHistogram {
    let histogram = this.stageLatency.get(stage)
    if (histogram === undefined) {
      histogram = new LatencyHistogram()
      this.stageLatency.set(stage, histogram)
    }
    return histogram
  }

  /** Counts a `stage:dropped` event. */
  addDropped (stage: string, reason: string, count: number): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + count
    this.droppedByStage[stage] = (this.droppedByStage[stage] ?? 0) + count
  }

  /** Counts a `child:restarted` event. */
  addRestart (child: string): void {
    this.restarts[child] = (this.restarts[child] ?? 0) + 1
  }

  /** Everything, as plain data; `stages` and `pushed` are read live by the caller. */
  snapshot (stages: readonly StageInfo[], pushed: number): RuntimeMetrics {
    const perStage: Record<string, StageMetrics> = {}
    const lost: Record<string, number> = {}
    for (const s of stages) {
      if (s.lost > 0) lost[s.id] = s.lost
      perStage[s.id] = {
        up: s.up,
        received: s.received,
        handled: s.handled,
        emitted: s.emitted,
        buffered: s.buffered,
        queued: s.queued,
        demand: s.demand,
        dropped: this.droppedByStage[s.id] ?? 0,
        lost: s.lost,
        latency: this.latencyOf(s.id).summary(),
      }
    }
    return {
      pushed,
      dispatched: this.dispatched,
      delivered: this.delivered,
      dropped: { ...this.dropped },
      deliveriesDropped: { ...this.deliveriesDropped },
      lost,
      restarts: { ...this.restarts },
      latency: this.delivery.summary(),
      stages: perStage,
    }
  }
}

function addCounts (into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count
}
