/**
 * What a demo client makes of each frame it receives, checked at the socket level.
 *
 * A Phoenix channel silently ignores frames of topics it did not join, so a check inside a channel
 * would hide a misroute; the clients look at every frame through `socket.onMessage` instead:
 *
 * ```
 *   event phx_*  (replies, errors, closes; heartbeat replies on "phoenix")  ─► control
 *   topic not joined by this client                                        ─► not_joined    } misrouted
 *   payload.key !== the topic's key (feed:<key>)                           ─► key_mismatch  }
 *   payload not { id: string|number, ts: number, key: string, data }      ─► invalid
 *   otherwise                                                              ─► delivery
 * ```
 */
import { FEED_TOPIC_PREFIX } from './topics.js'

/** How a frame is counted. `not_joined` and `key_mismatch` are misroutes. */
export type FrameVerdict = 'control' | 'delivery' | 'not_joined' | 'key_mismatch' | 'invalid'

/** A frame as the official client's `socket.onMessage` hands it over. */
export interface ClientFrame {
  join_ref?: string | null
  ref?: string | null
  topic: string
  event: string
  payload: unknown
}

/**
 * Classifies one frame received by a client that joined the topics in `joined`. Pure; allocates nothing.
 *
 * @throws never.
 */
export function checkFrame (frame: ClientFrame, joined: { has (topic: string): boolean }): FrameVerdict {
  const event = frame.event
  if (typeof event !== 'string' || event.startsWith('phx_')) return 'control'
  const topic = frame.topic
  if (typeof topic !== 'string' || !joined.has(topic)) return 'not_joined'
  const payload = frame.payload as { id?: unknown, ts?: unknown, key?: unknown } | null
  if (typeof payload !== 'object' || payload === null) return 'invalid'
  const id = payload.id
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof payload.ts !== 'number' || typeof payload.key !== 'string') return 'invalid'
  // topic === 'feed:' + key, without building the string.
  const key = payload.key
  if (topic.length !== FEED_TOPIC_PREFIX.length + key.length || !topic.startsWith(FEED_TOPIC_PREFIX) || !topic.endsWith(key)) return 'key_mismatch'
  return 'delivery'
}
