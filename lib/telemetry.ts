/**
 * The telemetry events a runtime emits to the host app.
 *
 * The library prints nothing; everything it has to say is one of these
 * events (`runtime.on('child:restarted', ...)`) or a return value.
 */
import type { ExitReason } from './actor/behaviour.js'

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

/** Every event a runtime emits, by name. */
export interface TelemetryEvents {
  'child:started': [ChildStartedEvent]
  'child:exited': [ChildExitedEvent]
  'child:restarted': [ChildRestartedEvent]
  'supervisor:intensity': [IntensityExceededEvent]
  'fatal': [FatalEvent]
}
