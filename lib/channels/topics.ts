/**
 * Topics and channel routes.
 *
 * A topic is a non-empty string of at most 255 UTF-8 bytes: the bound of a binary frame's topic
 * field (one length byte), so every valid topic can travel in either frame format.
 *
 * A route maps a topic pattern to a channel module, as Phoenix's `channel "room:*", RoomChannel`:
 *
 * ```
 *   pattern        matches
 *   "room:lobby"   exactly "room:lobby"
 *   "room:*"       "room:" followed by anything, including nothing ("room:" itself)
 *   "*"            every topic
 * ```
 *
 * Phoenix compiles routes into function clauses, so the first route that matches wins. A route
 * that an earlier wildcard already covers could then never match; Phoenix accepts it silently,
 * {@link compileRoutes} refuses it. Once such routes are refused, first-match is the same as
 * "an exact route, else the longest matching prefix", which is how {@link routeTopic} looks up:
 * one map lookup, then a scan of the wildcard routes only.
 */
import { Buffer } from 'node:buffer'
import { InvalidArgumentError, TopicError } from '../errors.js'

/** Longest topic, in UTF-8 bytes. */
export const TOPIC_MAX_BYTES = 255

/** The topic of heartbeats; the endpoint answers it itself, so no route may claim it exactly. */
const RESERVED_TOPIC = 'phoenix'

/** One route: a topic pattern and what it leads to (a channel module, usually). */
export type TopicRoute<T> = readonly [pattern: string, target: T]

/** The result of {@link routeTopic}. */
export interface TopicMatch<T> {
  /** The pattern that matched, e.g. `user:*`: a bounded label for metrics, unlike the topic. */
  readonly pattern: string
  readonly target: T
  /** What the `*` matched (`"42"` for `user:42` on `user:*`); `""` for an exact route. */
  readonly suffix: string
}

/** Routes checked and indexed by {@link compileRoutes}. Treat as opaque. */
export interface CompiledRoutes<T> {
  /** @internal */
  readonly exact: ReadonlyMap<string, T>
  /** @internal Wildcard routes, longest prefix first. */
  readonly wildcards: ReadonlyArray<{ readonly pattern: string, readonly prefix: string, readonly target: T }>
  /** Every pattern, in the order given. */
  readonly patterns: readonly string[]
}

/**
 * Checks that `topic` is a topic: a non-empty string of at most {@link TOPIC_MAX_BYTES} UTF-8 bytes.
 *
 * @param where names the value in the message (`frame topic`, `options.topic`).
 * @returns the topic, typed.
 * @throws {TopicError} `ERR_BAD_TOPIC` it is not a string, is empty, or is too long.
 */
export function validateTopic (topic: unknown, where = 'topic'): string {
  if (typeof topic !== 'string') {
    throw new TopicError(`${where} must be a string, got ${topic === null ? 'null' : Array.isArray(topic) ? 'an array' : typeof topic}`)
  }
  if (topic.length === 0) throw new TopicError(`${where} must not be empty`)
  // A UTF-16 unit is at most 3 UTF-8 bytes, so a string of up to 85 units needs no byte count.
  if (topic.length > TOPIC_MAX_BYTES / 3) {
    const size = Buffer.byteLength(topic, 'utf8')
    if (size > TOPIC_MAX_BYTES) {
      throw new TopicError(`${where} must be at most ${TOPIC_MAX_BYTES} bytes (UTF-8), got ${size}: "${topic.slice(0, 40)}..."`)
    }
  }
  return topic
}

/**
 * Whether `topic` matches `pattern` (`room:lobby`, or `room:*`, a trailing `*` matching any suffix).
 *
 * @throws never; an invalid pattern simply matches as a literal (use {@link compileRoutes} to check patterns).
 */
export function topicMatches (pattern: string, topic: string): boolean {
  return pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : topic === pattern
}

/**
 * Checks and indexes a channel's routes, in Phoenix's order: the first route that matches a topic wins.
 *
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT`, naming `routes[i]`: the routes are not an
 *   array of `[pattern, target]`; a pattern is not a non-empty string; it has a `*` anywhere but at its
 *   end; it is longer than a topic can be; it claims the reserved topic `phoenix`; it repeats an
 *   earlier pattern; or an earlier wildcard already matches everything it does.
 */
export function compileRoutes<T> (routes: ReadonlyArray<TopicRoute<T>>): CompiledRoutes<T> {
  if (!Array.isArray(routes)) throw new InvalidArgumentError(`routes must be an array of [pattern, target], got ${typeof routes}`)
  const exact = new Map<string, T>()
  const wildcards: Array<{ pattern: string, prefix: string, target: T }> = []
  const patterns: string[] = []
  for (let i = 0; i < routes.length; i++) {
    const route: unknown = routes[i]
    if (!Array.isArray(route) || route.length !== 2) {
      throw new InvalidArgumentError(`routes[${i}] must be a [pattern, target] pair`)
    }
    const pattern: unknown = route[0]
    const target = route[1] as T
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw new InvalidArgumentError(`routes[${i}] pattern must be a non-empty string, got ${JSON.stringify(pattern) ?? typeof pattern}`)
    }
    const star = pattern.indexOf('*')
    if (star !== -1 && star !== pattern.length - 1) {
      throw new InvalidArgumentError(`routes[${i}] pattern "${pattern}" may have a * only at its end (e.g. "room:*")`)
    }
    const literal = star === -1 ? pattern : pattern.slice(0, -1)
    if (Buffer.byteLength(literal, 'utf8') > TOPIC_MAX_BYTES) {
      throw new InvalidArgumentError(`routes[${i}] pattern "${pattern.slice(0, 40)}..." is longer than a topic can be (${TOPIC_MAX_BYTES} bytes)`)
    }
    if (pattern === RESERVED_TOPIC) {
      throw new InvalidArgumentError(`routes[${i}] pattern "${RESERVED_TOPIC}" is reserved for heartbeats`)
    }
    const earlier = patterns.indexOf(pattern)
    if (earlier !== -1) {
      throw new InvalidArgumentError(`routes[${i}] pattern "${pattern}" repeats routes[${earlier}]`)
    }
    // A pattern is unreachable when an earlier wildcard's prefix starts it: every topic it matches,
    // the earlier one matched first.
    for (let j = 0; j < wildcards.length; j++) {
      const w = wildcards[j] as { pattern: string, prefix: string }
      if (literal.startsWith(w.prefix)) {
        throw new InvalidArgumentError(
          `routes[${i}] pattern "${pattern}" can never match: routes[${patterns.indexOf(w.pattern)}] "${w.pattern}" comes first and matches every topic it would`)
      }
    }
    patterns.push(pattern)
    if (star === -1) exact.set(pattern, target)
    else wildcards.push({ pattern, prefix: literal, target })
  }
  // Longest prefix first. Among wildcards that both match a topic, one prefix starts the other, and
  // the shorter one cannot have come first (it would shadow the longer, refused above), so this is
  // the definition order wherever it matters.
  wildcards.sort((a, b) => b.prefix.length - a.prefix.length)
  return { exact, wildcards, patterns }
}

/**
 * Finds the route of a topic: the exact route, else the wildcard with the longest matching prefix
 * (the same answer as Phoenix's first match, see the module comment). Validate the topic first
 * with {@link validateTopic}: this only looks it up.
 *
 * @returns the match, or `undefined` when no route matches (Phoenix replies `unmatched topic`).
 * @throws never.
 */
export function routeTopic<T> (routes: CompiledRoutes<T>, topic: string): TopicMatch<T> | undefined {
  if (routes.exact.has(topic)) return { pattern: topic, target: routes.exact.get(topic) as T, suffix: '' }
  const wildcards = routes.wildcards
  for (let i = 0; i < wildcards.length; i++) {
    const w = wildcards[i] as CompiledRoutes<T>['wildcards'][number]
    if (topic.startsWith(w.prefix)) return { pattern: w.pattern, target: w.target, suffix: topic.slice(w.prefix.length) }
  }
  return undefined
}
