/**
 * What one thread measures, and the report it sends the main thread.
 *
 *   stage thread                                            main thread
 *   ────────────                                            ───────────
 *   Stage: handleEvents gets a chunk → stage(id).record()
 *   broadcaster: endpoint.recordLatency(delivery),
 *                counts dispatched / delivered
 *   every second, and when the thread ends:
 *     take() → MetricsReport (deltas) ──{type:'metrics'}──► MetricsAggregate.add(report)
 *
 * One instance per thread: {@link threadMetrics}, module state, which is per thread because every
 * worker thread has its own module graph. The stage host records into it, the broadcaster module
 * (a stage module like any other) into it too, and workers/actor.ts sends what it holds.
 * @internal
 */
import { LatencyRecorder } from './latency.js'
import type { LatencySnapshot } from './latency.js'

/**
 * What a thread measured since its previous report: every figure is a delta, so the main thread
 * adds reports up and a thread that dies takes only its unreported last second with it.
 */
export interface MetricsReport {
  /** Push → stage latency, by stage id: recorded as each event reaches the stage's callback (see Stage). */
  stages: Record<string, LatencySnapshot>
  /** Push → socket write latency, one value per delivery (broadcasters' endpoints). */
  delivery?: LatencySnapshot
  /** Events broadcasters handed to their endpoint's fan-out. */
  dispatched: number
  /** Deliveries: frames of those events written to a subscriber's socket (an event with 3 subscribers: 3). */
  delivered: number
  /** Deliveries dropped by an endpoint's outbound policy (slow clients), by reason. */
  deliveryDrops: Record<string, number>
}

/** A source of counts kept elsewhere (an endpoint's stats): called at each take, it adds its deltas. */
export type MetricsCollector = (metrics: ThreadMetrics) => void

/** One thread's recorders and counters. @internal */
export class ThreadMetrics {
  readonly #stages = new Map<string, LatencyRecorder>()
  #delivery: LatencyRecorder | undefined
  readonly #collectors = new Set<MetricsCollector>()
  dispatched = 0
  delivered = 0
  readonly deliveryDrops: Record<string, number> = {}

  /** The push → stage recorder of stage `id` (made on first use: the first one compiles the wasm module, ~30 ms). */
  stage (id: string): LatencyRecorder {
    let recorder = this.#stages.get(id)
    if (recorder === undefined) {
      recorder = new LatencyRecorder()
      this.#stages.set(id, recorder)
    }
    return recorder
  }

  /** The push → socket write recorder (an Endpoint's latency sink). */
  get delivery (): LatencyRecorder {
    this.#delivery ??= new LatencyRecorder()
    return this.#delivery
  }

  /** Adds `collector`, called at each {@link take}; returns the function that removes it. */
  collect (collector: MetricsCollector): () => void {
    this.#collectors.add(collector)
    return () => { this.#collectors.delete(collector) }
  }

  /** Everything since the previous take, or undefined when nothing happened. */
  take (): MetricsReport | undefined {
    for (const collector of this.#collectors) collector(this)
    const stages: Record<string, LatencySnapshot> = {}
    let any = this.dispatched > 0 || this.delivered > 0
    for (const [id, recorder] of this.#stages) {
      if (recorder.count === 0) continue
      stages[id] = recorder.take()
      any = true
    }
    const delivery = this.#delivery !== undefined && this.#delivery.count > 0 ? this.#delivery.take() : undefined
    const drops = Object.keys(this.deliveryDrops).length > 0
    if (!any && delivery === undefined && !drops) return undefined
    const report: MetricsReport = {
      stages,
      dispatched: this.dispatched,
      delivered: this.delivered,
      deliveryDrops: { ...this.deliveryDrops },
      ...(delivery === undefined ? {} : { delivery }),
    }
    this.dispatched = 0
    this.delivered = 0
    for (const reason of Object.keys(this.deliveryDrops)) delete this.deliveryDrops[reason]
    return report
  }
}

/** This thread's metrics. */
export const threadMetrics = new ThreadMetrics()
