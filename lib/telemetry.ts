/**
 * The telemetry events a runtime emits to the host app.
 *
 * The library prints nothing; everything it has to say is one of these
 * events (`runtime.on('child:restarted', ...)`) or a return value.
 */
import type { ExitReason } from './actor/behaviour.js'
import type { RuntimeMetrics } from './metrics/aggregate.js'

/** Where in the tree a child lives: the chain of supervisor ids from the root (`root` first). */
export type SupervisorPath = string

/** Payload of `child:started`. */
export interface ChildStartedEvent {
  supervisor: SupervisorPath
  id: string
  type: 'worker' | 'supervisor' | 'dynamic_supervisor'
  /** The worker thread's id, for worker children. */
  threadId?: number
}

/** Payload of `child:exited`: every exit, expected (`shutdown`) or not. */
export interface ChildExitedEvent {
  supervisor: SupervisorPath
  id: string
  reason: ExitReason
}

/** Payload of `child:restarted`. */
export interface ChildRestartedEvent {
  supervisor: SupervisorPath
  id: string
  /** How many times this child has been restarted since the runtime started. */
  restarts: number
  /** The exit that caused the restart (for a sibling restarted by one_for_all/rest_for_one: the sibling's failure). */
  reason: ExitReason
}

/** Payload of `supervisor:intensity`: the supervisor gave up and is stopping its children. */
export interface IntensityExceededEvent {
  supervisor: SupervisorPath
  maxRestarts: number
  maxSeconds: number
  /** The failure that crossed the limit. */
  reason: ExitReason
}

/** Payload of `fatal`: the root supervisor gave up; the runtime has stopped every child. */
export interface FatalEvent {
  error: Error
}

/** Payload of `stage:dropped`: a stage's buffer (or the push queue of a producer that is down) dropped events. */
export interface StageDroppedEvent {
  stage: string
  count: number
  /**
   * `buffer_full`: the stage's buffer overflowed (its `bufferKeep` chose what went);
   * `no_producer`: pushed while the producer was down, past its bufferSize;
   * `task_failed`: a consumer_supervisor task failed after its retries;
   * `unencodable`: a pushed payload could not be encoded to cross threads (a symbol, a cycle, a function...);
   * `undeliverable`: the stage itself gave up on them (`ctx.dropped`): the broadcaster, for an event
   * with no topic or a payload it cannot serialise;
   * `pubsub_down`: broadcasts the broadcaster delivered to its own clients but could not publish to
   * the other servers (its cluster adapter was down): partial deliveries, not lost events;
   * `queue_unavailable`: pushes to a durable queue that Redis did not confirm (not accepted).
   */
  reason: 'buffer_full' | 'no_producer' | 'task_failed' | 'unencodable' | 'undeliverable' | 'pubsub_down' | 'queue_unavailable'
}

/** Payload of `stage:lost`: events that were inside a stage when its thread ended. */
export interface StageLostEvent {
  stage: string
  count: number
  /** Why the thread ended. */
  reason: ExitReason
}

/** Payload of `drain`: the events pushed to `stage` and not yet taken fell back under its low-water mark. */
export interface DrainEvent {
  stage: string
}

/** Every event a runtime emits, by name. */
export interface TelemetryEvents {
  'child:started': [ChildStartedEvent]
  'child:exited': [ChildExitedEvent]
  'child:restarted': [ChildRestartedEvent]
  'supervisor:intensity': [IntensityExceededEvent]
  'fatal': [FatalEvent]
  'stage:dropped': [StageDroppedEvent]
  'stage:lost': [StageLostEvent]
  'drain': [DrainEvent]
  /** Every second: what {@link Runtime.metrics} returns (emitted only while someone listens). */
  'metrics': [RuntimeMetrics]
}
