/**
 * What the demo's inputs produce and what its server puts on the wire.
 *
 * ```
 *   recording (Replay) ─┐
 *                       ├─► FeedEvent { key, time, event } ─► (the lead's pipeline) ─►
 *   FeedGenerator ──────┘      endpoint.broadcast(`feed:${key}`, 'event', FeedPayload { id, ts, key, data })
 * ```
 *
 * Both sources are async iterables of {@link FeedEvent}, paced the same way by a {@link Speed}.
 */
import { InvalidArgumentError } from '../errors.js'

/** One event of a feed: its routing key, when it happened, and the event itself. */
export interface FeedEvent {
  /** The routing key (`docker/docker`, `#en.wikipedia`, `SKL-USD`): the topic is `feed:<key>`. */
  key: string
  /** When it happened, in ms since the Unix epoch (the recorded time, not the replay time). */
  time: number
  /** The event as recorded (or generated): a JSON object. */
  event: Record<string, unknown>
}

/**
 * How fast a feed is paced: a number X plays it X times faster than recorded (1 = real time,
 * 10 = ten times faster, 0.5 = half speed); `'max'` does not wait at all.
 */
export type Speed = number | 'max'

/**
 * The payload the demo server broadcasts on `feed:<key>`, and what the demo clients check.
 */
export interface FeedPayload {
  /** Stable event id (the envelope's id): a client seeing it twice on one topic counts a duplicate. */
  id: number | string
  /** Push time, ms since the epoch on the `performance.timeOrigin + performance.now()` clock. */
  ts: number
  /** The routing key: must be the topic's suffix, or the client counts a misroute. */
  key: string
  /** The {@link FeedEvent.event}. */
  data: unknown
}

/** The event name the demo server is expected to broadcast with (the clients accept any non-`phx_` event). */
export const FEED_EVENT = 'event'

/**
 * Checks a {@link Speed}.
 *
 * @param where names the value in the error (`options.speed`).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` not a positive finite number nor `'max'`.
 */
export function checkSpeed (speed: unknown, where = 'options.speed'): Speed {
  if (speed === 'max') return speed
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0) {
    throw new InvalidArgumentError(`${where} must be a positive number (times faster than recorded) or "max", got ${describe(speed)}`)
  }
  return speed
}

/** @internal A value as error messages show it. */
export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value)
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}
