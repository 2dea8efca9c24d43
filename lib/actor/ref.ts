/**
 * What the rest of the runtime sees of a running actor, wherever it runs:
 * in a worker thread of its own ({@link Actor}) or, for stages placed with
 * `thread: "main"`, in the host app's thread ({@link LocalActor}).
 * @internal
 */
import type { MessagePort } from 'node:worker_threads'
import type { EventEmitter } from 'eventemitter3'
import type { MetricsReport } from '../metrics/thread-metrics.js'
import type { ActorStats, DropCounts, StageBoot, StageControl } from '../protocol.js'
import type { ExitReason } from './behaviour.js'

/** Shutdown of one child: a grace period in ms, `brutal_kill` (at once) or `infinity`. */
export type Shutdown = number | 'brutal_kill' | 'infinity'

/** Events every actor handle emits. */
export interface ActorEvents {
  exit: [reason: ExitReason]
  stats: [stats: ActorStats]
  /** Stages of this actor dropped events, by stage id and reason. */
  dropped: [counts: DropCounts]
  /** What its thread measured since its previous report. */
  metrics: [report: MetricsReport]
}

/** A running actor, as supervisors, the registry and the wiring use it. */
export interface ActorRef extends EventEmitter<ActorEvents> {
  readonly id: string
  /** The worker thread's id (0: the host app's thread). */
  readonly threadId: number
  /** True until it has exited. */
  readonly alive: boolean
  /** The latest stats it reported. */
  readonly stats: ActorStats | undefined
  /** Resolves with the exit reason once it has ended. */
  readonly exited: Promise<ExitReason>
  /** The stage ids it hosts (empty for a plain actor). */
  readonly stageIds: string[]
  /** The boot description of one of its stages. */
  stage (id: string): StageBoot | undefined
  /** Calls its `handleCall` (or a stage's). */
  call (request: unknown, timeoutMs: number, stage?: string): Promise<unknown>
  /** Stops it gracefully within `shutdown`, then forcibly. */
  stop (shutdown: Shutdown): Promise<ExitReason>
  /** A wiring instruction for its stages. */
  control (message: StageControl, transfer?: MessagePort[]): void
}
