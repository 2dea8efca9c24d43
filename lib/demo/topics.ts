/**
 * The demo's topics: `feed:<key>`, and which client joins which.
 */
import { InvalidArgumentError } from '../errors.js'
import { describe } from './feed.js'
import { prng } from './prng.js'

/** Every demo topic starts with this; the rest is the routing key. */
export const FEED_TOPIC_PREFIX = 'feed:'

/** The topic of routing key `key`: `feed:<key>`. */
export function feedTopic (key: string): string {
  return FEED_TOPIC_PREFIX + key
}

/** A seeded rule for which topics each client joins. */
export interface TopicRule {
  /** The keys to choose among (usually the most frequent ones: `scanKeys(...).keys`, `FeedGenerator.keys`). */
  keys: readonly string[]
  /** Topics per client (at most `keys.length`; fewer keys: every client joins all of them). */
  perClient: number
  /** PRNG seed, a uint32. */
  seed: number
}

/**
 * The topics of each of `clients` clients, by `rule`: client i joins `feed:<keys[i mod K]>` (so
 * with at least K clients every key has a subscriber), then `perClient - 1` more keys drawn
 * uniformly without repetition. The same arguments give the same lists.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` `clients` is not a positive integer, or a
 *   field of `rule` is invalid (`rule.keys must be ...`).
 */
export function assignTopics (clients: number, rule: TopicRule): string[][] {
  if (!Number.isSafeInteger(clients) || clients < 1) throw new InvalidArgumentError(`clients must be a positive integer, got ${describe(clients)}`)
  if (typeof rule !== 'object' || rule === null) throw new InvalidArgumentError(`rule must be an object, got ${describe(rule)}`)
  const { keys, perClient, seed } = rule
  if (!Array.isArray(keys) || keys.length === 0) throw new InvalidArgumentError(`rule.keys must be a non-empty array of keys, got ${describe(keys)}`)
  for (let i = 0; i < keys.length; i++) {
    if (typeof keys[i] !== 'string' || keys[i].length === 0) throw new InvalidArgumentError(`rule.keys[${i}] must be a non-empty string, got ${describe(keys[i])}`)
  }
  if (new Set(keys).size !== keys.length) throw new InvalidArgumentError('rule.keys must not repeat a key')
  if (!Number.isSafeInteger(perClient) || perClient < 1) throw new InvalidArgumentError(`rule.perClient must be a positive integer, got ${describe(perClient)}`)
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InvalidArgumentError(`rule.seed must be an integer from 0 to 4294967295, got ${describe(seed)}`)

  const random = prng(seed)
  const k = keys.length
  const take = Math.min(perClient, k)
  const order = new Array<number>(k)
  const lists: string[][] = []
  for (let c = 0; c < clients; c++) {
    for (let i = 0; i < k; i++) order[i] = i
    // The round-robin key first, then a partial Fisher-Yates shuffle of the rest.
    const first = c % k
    order[first] = 0
    order[0] = first
    for (let i = 1; i < take; i++) {
      const j = i + Math.floor(random() * (k - i))
      const swap = order[i] as number
      order[i] = order[j] as number
      order[j] = swap
    }
    const topics: string[] = []
    for (let i = 0; i < take; i++) topics.push(feedTopic(keys[order[i] as number] as string))
    lists.push(topics)
  }
  return lists
}
