/**
 * Errors with stable codes.
 *
 * Every error the runtime raises is a `StagewireError` subclass with a
 * `code` that tests and callers can match (`ERR_SPEC_INVALID`, ...), after
 * undici's `lib/core/errors.js`. Structured clone (postMessage) turns an Error
 * subclass into a plain `Error` and drops `code`, so errors cross threads as
 * plain data ({@link WireError}) and are rebuilt by code with {@link fromWire}.
 */

/** The plain-data form of an error, safe to postMessage. */
export interface WireError {
  name: string
  message: string
  code: string | undefined
  stack: string | undefined
  /** Extra fields a subclass carries (e.g. `path` of a spec error). */
  details?: Record<string, unknown>
}

/** Base class of every error stagewire raises. */
export class StagewireError extends Error {
  /** Stable machine-readable code, `ERR_...`. */
  readonly code: string
  constructor (message: string, code = 'ERR_STAGEWIRE', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StagewireError'
    this.code = code
  }
}

/** A tree spec failed validation; `path` names the offending place (`children[2].restart`). */
export class SpecError extends StagewireError {
  readonly path: string
  constructor (message: string, path = '', options?: { cause?: unknown }) {
    super(message, 'ERR_SPEC_INVALID', options)
    this.name = 'SpecError'
    this.path = path
  }
}

/** A run-time option passed to a public function was invalid. */
export class InvalidArgumentError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_INVALID_ARGUMENT')
    this.name = 'InvalidArgumentError'
  }
}

/** An actor's `init` threw or rejected. */
export class ActorInitError extends StagewireError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_ACTOR_INIT', options)
    this.name = 'ActorInitError'
  }
}

/** An actor crashed: an uncaught exception or unhandled rejection in its thread. */
export class ActorCrashedError extends StagewireError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_ACTOR_CRASHED', options)
    this.name = 'ActorCrashedError'
  }
}

/** An actor's thread exited without being asked to (for instance `process.exit()` in the worker). */
export class ActorExitedError extends StagewireError {
  readonly exitCode: number
  constructor (message: string, exitCode: number) {
    super(message, 'ERR_ACTOR_EXITED')
    this.name = 'ActorExitedError'
    this.exitCode = exitCode
  }
}

/** An actor's thread exceeded its `resourceLimits` and was stopped by V8. */
export class ActorOutOfMemoryError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_ACTOR_OUT_OF_MEMORY')
    this.name = 'ActorOutOfMemoryError'
  }
}

/** An actor missed its heartbeats (an infinite loop, a blocked event loop) and was terminated. */
export class ActorUnresponsiveError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_ACTOR_UNRESPONSIVE')
    this.name = 'ActorUnresponsiveError'
  }
}

/** A graceful shutdown did not finish within its timeout; the thread was terminated. */
export class ShutdownTimeoutError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_SHUTDOWN_TIMEOUT')
    this.name = 'ShutdownTimeoutError'
  }
}

/** A call was made to an actor that is not running (never started, exited, or being restarted). */
export class ActorNotFoundError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_ACTOR_NOT_FOUND')
    this.name = 'ActorNotFoundError'
  }
}

/** The actor went away while a call to it was in flight. */
export class ActorGoneError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_ACTOR_GONE')
    this.name = 'ActorGoneError'
  }
}

/** A call got no reply within its timeout. */
export class CallTimeoutError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_CALL_TIMEOUT')
    this.name = 'CallTimeoutError'
  }
}

/** The actor's module has no handler for what was asked of it (e.g. a call to a module without `handleCall`). */
export class NotImplementedError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_NOT_IMPLEMENTED')
    this.name = 'NotImplementedError'
  }
}

/** A producer sent a subscription more events than it asked for: the demand contract is broken. */
export class DemandExceededError extends StagewireError {
  /** Events in the offending batch. */
  readonly received: number
  /** Events the subscription had asked for and not received. */
  readonly outstanding: number
  constructor (received: number, outstanding: number, message?: string) {
    super(message ?? `received ${received} events on a subscription with an outstanding demand of ${outstanding}`, 'ERR_DEMAND_EXCEEDED')
    this.name = 'DemandExceededError'
    this.received = received
    this.outstanding = outstanding
  }
}

/** A consumer's producer went away and its cancel mode says the consumer goes too. */
export class ProducerDownError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_PRODUCER_DOWN')
    this.name = 'ProducerDownError'
  }
}

/** A bounded mailbox or queue was full and the policy was to refuse. */
export class MailboxFullError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_MAILBOX_FULL')
    this.name = 'MailboxFullError'
  }
}

/** A supervisor's children restarted more than `maxRestarts` times within `maxSeconds`. */
export class RestartIntensityError extends StagewireError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_RESTART_INTENSITY')
    this.name = 'RestartIntensityError'
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false })
  }
}

/** A child id was already taken within its supervisor, or a registry name was taken. */
export class DuplicateIdError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_DUPLICATE_ID')
    this.name = 'DuplicateIdError'
  }
}

/** The runtime is closing or closed; no new work is accepted. */
export class RuntimeClosedError extends StagewireError {
  constructor (message = 'the runtime is closed') {
    super(message, 'ERR_RUNTIME_CLOSED')
    this.name = 'RuntimeClosedError'
  }
}

/** A durable queue could not append an event (Redis down, or it refused it): the event was not accepted. */
export class QueueUnavailableError extends StagewireError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_QUEUE_UNAVAILABLE', options)
    this.name = 'QueueUnavailableError'
  }
}

/** A message between threads did not match the protocol (a bug, or a version mismatch). */
export class ProtocolError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_PROTOCOL')
    this.name = 'ProtocolError'
  }
}

/** The codes a {@link FrameError} carries: one per way a client's frame can be wrong. */
export type FrameErrorCode =
  | 'ERR_FRAME_NOT_JSON' | 'ERR_FRAME_NOT_ARRAY' | 'ERR_FRAME_ARITY' | 'ERR_FRAME_FIELD' | 'ERR_FRAME_BINARY'

/**
 * A WebSocket frame from a client is not a valid Phoenix V2 message. The code says how
 * (not JSON, not an array, not 5 elements, an element of the wrong type, a bad binary frame).
 */
export class FrameError extends StagewireError {
  /**
   * Where to send an error reply, when the frame's `join_ref`, `ref` and `topic` were readable:
   * the client's push then fails at once instead of waiting for its timeout. Local to the
   * thread that decoded the frame; not carried by {@link toWire}.
   */
  readonly replyTo: { joinRef: string | null, ref: string, topic: string } | undefined
  constructor (message: string, code: FrameErrorCode, replyTo?: { joinRef: string | null, ref: string, topic: string }) {
    super(message, code)
    this.name = 'FrameError'
    this.replyTo = replyTo
  }
}

/** The codes a {@link TokenError} carries. */
export type TokenErrorCode = 'ERR_TOKEN_MALFORMED' | 'ERR_TOKEN_INVALID' | 'ERR_TOKEN_EXPIRED' | 'ERR_TOKEN_NOT_YET_VALID'

/**
 * A connect token was refused: malformed, a signature that does not match (tampered, or another
 * secret), expired, or issued in the future beyond the allowed clock skew.
 */
export class TokenError extends StagewireError {
  constructor (message: string, code: TokenErrorCode) {
    super(message, code)
    this.name = 'TokenError'
  }
}

/** A channel topic is not a valid topic (not a string, empty, or too long). */
export class TopicError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_BAD_TOPIC')
    this.name = 'TopicError'
  }
}

type Rebuild = (w: WireError) => StagewireError
const rebuilders: Record<string, Rebuild> = {
  ERR_SPEC_INVALID: (w) => new SpecError(w.message, String(w.details?.path ?? '')),
  ERR_INVALID_ARGUMENT: (w) => new InvalidArgumentError(w.message),
  ERR_ACTOR_INIT: (w) => new ActorInitError(w.message),
  ERR_ACTOR_CRASHED: (w) => new ActorCrashedError(w.message),
  ERR_ACTOR_EXITED: (w) => new ActorExitedError(w.message, Number(w.details?.exitCode ?? 1)),
  ERR_ACTOR_OUT_OF_MEMORY: (w) => new ActorOutOfMemoryError(w.message),
  ERR_ACTOR_UNRESPONSIVE: (w) => new ActorUnresponsiveError(w.message),
  ERR_SHUTDOWN_TIMEOUT: (w) => new ShutdownTimeoutError(w.message),
  ERR_ACTOR_NOT_FOUND: (w) => new ActorNotFoundError(w.message),
  ERR_ACTOR_GONE: (w) => new ActorGoneError(w.message),
  ERR_CALL_TIMEOUT: (w) => new CallTimeoutError(w.message),
  ERR_NOT_IMPLEMENTED: (w) => new NotImplementedError(w.message),
  ERR_MAILBOX_FULL: (w) => new MailboxFullError(w.message),
  ERR_RESTART_INTENSITY: (w) => new RestartIntensityError(w.message),
  ERR_DUPLICATE_ID: (w) => new DuplicateIdError(w.message),
  ERR_RUNTIME_CLOSED: (w) => new RuntimeClosedError(w.message),
  ERR_PROTOCOL: (w) => new ProtocolError(w.message),
  ERR_QUEUE_UNAVAILABLE: (w) => new QueueUnavailableError(w.message),
  ERR_DEMAND_EXCEEDED: (w) => new DemandExceededError(Number(w.details?.received ?? 0), Number(w.details?.outstanding ?? 0), w.message),
  ERR_PRODUCER_DOWN: (w) => new ProducerDownError(w.message),
  ERR_FRAME_NOT_JSON: (w) => new FrameError(w.message, 'ERR_FRAME_NOT_JSON'),
  ERR_FRAME_NOT_ARRAY: (w) => new FrameError(w.message, 'ERR_FRAME_NOT_ARRAY'),
  ERR_FRAME_ARITY: (w) => new FrameError(w.message, 'ERR_FRAME_ARITY'),
  ERR_FRAME_FIELD: (w) => new FrameError(w.message, 'ERR_FRAME_FIELD'),
  ERR_FRAME_BINARY: (w) => new FrameError(w.message, 'ERR_FRAME_BINARY'),
  ERR_TOKEN_MALFORMED: (w) => new TokenError(w.message, 'ERR_TOKEN_MALFORMED'),
  ERR_TOKEN_INVALID: (w) => new TokenError(w.message, 'ERR_TOKEN_INVALID'),
  ERR_TOKEN_EXPIRED: (w) => new TokenError(w.message, 'ERR_TOKEN_EXPIRED'),
  ERR_TOKEN_NOT_YET_VALID: (w) => new TokenError(w.message, 'ERR_TOKEN_NOT_YET_VALID'),
  ERR_BAD_TOPIC: (w) => new TopicError(w.message),
}

/**
 * Turns anything thrown into plain data that survives postMessage.
 * Non-Error throws (`throw 'boom'`) become `{ name: 'Error', message: 'boom' }`.
 */
export function toWire (err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const wire: WireError = {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      stack: err.stack,
    }
    if (err instanceof SpecError) wire.details = { path: err.path }
    else if (err instanceof ActorExitedError) wire.details = { exitCode: err.exitCode }
    else if (err instanceof DemandExceededError) wire.details = { received: err.received, outstanding: err.outstanding }
    return wire
  }
  return { name: 'Error', message: describeThrown(err), code: undefined, stack: undefined }
}

/**
 * Rebuilds an error sent by {@link toWire}: a stagewire code gives back its class;
 * anything else (an app's own error) comes back as a plain `Error` keeping name, code and stack.
 */
export function fromWire (wire: WireError): Error {
  const rebuild = wire.code === undefined ? undefined : rebuilders[wire.code]
  let err: Error
  if (rebuild !== undefined) {
    err = rebuild(wire)
  } else {
    err = new Error(wire.message)
    err.name = wire.name
    if (wire.code !== undefined) (err as Error & { code?: string }).code = wire.code
  }
  if (wire.stack !== undefined) err.stack = wire.stack
  return err
}

/** A one-line description of any thrown value, for messages. */
export function describeThrown (value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
