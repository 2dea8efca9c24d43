// Topics and channel routes: topic validation at its byte bound, Phoenix's `channel "room:*"`
// matching, routes Phoenix would accept but could never reach refused, and the indexed lookup
// checked against Phoenix's rule (first route in order that matches) over generated route sets.
import t from 'tap'
import { TOPIC_MAX_BYTES, compileRoutes, routeTopic, topicMatches, validateTopic } from '../../lib/channels/topics.js'
import type { TopicRoute } from '../../lib/channels/topics.js'
import { InvalidArgumentError, TopicError, fromWire, toWire } from '../../lib/errors.js'
import { prng } from '../helpers.js'

t.test('valid topics are returned as they are', async (t) => {
  t.equal(TOPIC_MAX_BYTES, 255)
  for (const topic of ['room:lobby', 'phoenix', 'user:42', 'x', 'x'.repeat(255), '€'.repeat(85), 'é'.repeat(127) + 'a', ' ']) {
    t.equal(validateTopic(topic), topic, `${topic.slice(0, 12)} (${Buffer.byteLength(topic)} bytes)`)
  }
})

t.test('invalid topics: ERR_BAD_TOPIC, naming the place and the value', async (t) => {
  const cases: Array<[unknown, string]> = [
    ['', 'topic must not be empty'],
    [42, 'topic must be a string, got number'],
    [null, 'topic must be a string, got null'],
    [undefined, 'topic must be a string, got undefined'],
    [['room:1'], 'topic must be a string, got an array'],
    [{ topic: 'room:1' }, 'topic must be a string, got object'],
    ['x'.repeat(256), `topic must be at most 255 bytes (UTF-8), got 256: "${'x'.repeat(40)}..."`],
    // Fewer characters than bytes: the bound is on bytes, as a binary frame's length byte is.
    ['é'.repeat(128), `topic must be at most 255 bytes (UTF-8), got 256: "${'é'.repeat(40)}..."`],
    ['€'.repeat(86), `topic must be at most 255 bytes (UTF-8), got 258: "${'€'.repeat(40)}..."`],
    ['😀'.repeat(64), `topic must be at most 255 bytes (UTF-8), got 256: "${'😀'.repeat(20)}..."`],
  ]
  for (const [topic, message] of cases) {
    const err = t.throws(() => validateTopic(topic)) as TopicError
    t.type(err, TopicError)
    t.equal(err.code, 'ERR_BAD_TOPIC')
    t.equal(err.message, message)
  }
  t.throws(() => validateTopic(7, 'frame[2] topic'), { message: 'frame[2] topic must be a string, got number' }, 'the caller names the place')
})

t.test('topicMatches: exact, trailing * (any suffix, even none), catch-all', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['room:lobby', 'room:lobby', true],
    ['room:lobby', 'room:lobby2', false],
    ['room:lobby', 'room:lobb', false],
    ['room:*', 'room:42', true],
    ['room:*', 'room:', true],
    ['room:*', 'room:a:b:c', true],
    ['room:*', 'room', false],
    ['room:*', 'rooms:1', false],
    ['room:*', 'xroom:1', false],
    ['*', 'anything', true],
  ]
  for (const [pattern, topic, expected] of cases) t.equal(topicMatches(pattern, topic), expected, `${pattern} ~ ${topic}`)
})

t.test('routeTopic: exact before wildcard, longest prefix, suffix and pattern reported', async (t) => {
  const routes = compileRoutes([
    ['room:lobby', 'Lobby'],
    ['user:admin:*', 'Admin'],
    ['room:*', 'Room'],
    ['user:*', 'User'],
  ])
  t.strictSame(routes.patterns, ['room:lobby', 'user:admin:*', 'room:*', 'user:*'], 'patterns in the order given')
  t.strictSame(routeTopic(routes, 'room:lobby'), { pattern: 'room:lobby', target: 'Lobby', suffix: '' })
  t.strictSame(routeTopic(routes, 'room:42'), { pattern: 'room:*', target: 'Room', suffix: '42' })
  t.strictSame(routeTopic(routes, 'room:'), { pattern: 'room:*', target: 'Room', suffix: '' })
  t.strictSame(routeTopic(routes, 'room:lobby:2'), { pattern: 'room:*', target: 'Room', suffix: 'lobby:2' })
  t.strictSame(routeTopic(routes, 'user:admin:1'), { pattern: 'user:admin:*', target: 'Admin', suffix: '1' })
  t.strictSame(routeTopic(routes, 'user:42'), { pattern: 'user:*', target: 'User', suffix: '42' })
  t.equal(routeTopic(routes, 'users:1'), undefined)
  t.equal(routeTopic(routes, 'room'), undefined)
  t.equal(routeTopic(routes, 'phoenix'), undefined)

  const catchAll = compileRoutes([['a:b', 1], ['*', 2]])
  t.strictSame(routeTopic(catchAll, 'a:b'), { pattern: 'a:b', target: 1, suffix: '' })
  t.strictSame(routeTopic(catchAll, 'zzz'), { pattern: '*', target: 2, suffix: 'zzz' })
  t.equal(routeTopic(compileRoutes([]), 'room:1'), undefined, 'no routes, no match')
})

t.test('the indexed lookup gives the same route as Phoenix, the first in order that matches', async (t) => {
  // A deterministic generator over a tiny alphabet, so prefixes overlap often.
  const random = prng(0x5eed)
  const word = (max: number): string => {
    let s = ''
    const n = Math.floor(random() * max)
    for (let i = 0; i < n; i++) s += 'ab:'[Math.floor(random() * 3)]
    return s
  }
  let sets = 0
  let lookups = 0
  let matched = 0
  while (sets < 300) {
    const routes: Array<TopicRoute<number>> = []
    const count = 1 + Math.floor(random() * 6)
    for (let i = 0; i < count; i++) routes.push([word(5) + (random() < 0.5 ? '*' : ''), i])
    let compiled
    try {
      compiled = compileRoutes(routes)
    } catch {
      continue // empty, duplicate or unreachable patterns: refused, tested below
    }
    sets++
    for (let k = 0; k < 30; k++) {
      const topic = word(7)
      const first = routes.find(([pattern]) => topicMatches(pattern, topic))
      const got = routeTopic(compiled, topic)
      lookups++
      if (got?.target !== first?.[1]) {
        t.fail(`routes ${JSON.stringify(routes)}, topic "${topic}": got ${JSON.stringify(got)}, Phoenix picks ${JSON.stringify(first)}`)
        return
      }
      if (got !== undefined) matched++
    }
  }
  t.pass(`${lookups} lookups over ${sets} route sets agree (${matched} matched)`)
  t.ok(matched > lookups / 4 && matched < lookups, 'the sample has both matches and misses')
})

t.test('compileRoutes refuses what Phoenix refuses, and routes that could never match', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['not an array', 'room:*', 'routes must be an array of [pattern, target], got string'],
    ['an entry that is not a pair', [['room:*']], 'routes[0] must be a [pattern, target] pair'],
    ['an empty pattern', [['room:1', 1], ['', 2]], 'routes[1] pattern must be a non-empty string, got ""'],
    ['a pattern that is not a string', [[42, 1]], 'routes[0] pattern must be a non-empty string, got 42'],
    ['a * in the middle', [['ro*om', 1]], 'routes[0] pattern "ro*om" may have a * only at its end (e.g. "room:*")'],
    ['two *', [['room:**', 1]], 'routes[0] pattern "room:**" may have a * only at its end (e.g. "room:*")'],
    ['a pattern longer than a topic', [['x'.repeat(256), 1]], `routes[0] pattern "${'x'.repeat(40)}..." is longer than a topic can be (255 bytes)`],
    ['the heartbeat topic', [['phoenix', 1]], 'routes[0] pattern "phoenix" is reserved for heartbeats'],
    ['a repeated pattern', [['room:1', 1], ['user:*', 2], ['room:1', 3]], 'routes[2] pattern "room:1" repeats routes[0]'],
    ['an exact route after a wildcard that covers it', [['room:*', 1], ['room:lobby', 2]],
      'routes[1] pattern "room:lobby" can never match: routes[0] "room:*" comes first and matches every topic it would'],
    ['a wildcard after a shorter one', [['user:1', 0], ['room:*', 1], ['room:a:*', 2]],
      'routes[2] pattern "room:a:*" can never match: routes[1] "room:*" comes first and matches every topic it would'],
    ['anything after a catch-all', [['*', 1], ['room:*', 2]],
      'routes[1] pattern "room:*" can never match: routes[0] "*" comes first and matches every topic it would'],
  ]
  for (const [name, routes, message] of cases) {
    const err = t.throws(() => compileRoutes(routes as Array<TopicRoute<number>>), name) as InvalidArgumentError
    t.type(err, InvalidArgumentError)
    t.equal(err.code, 'ERR_INVALID_ARGUMENT')
    t.equal(err.message, message, name)
  }
  t.ok(compileRoutes([['room:a:*', 1], ['room:*', 2]]), 'the longer wildcard first is fine: each is reachable')
  t.ok(compileRoutes([['room:lobby', 1], ['room:*', 2]]), 'the exact route first is fine')
})

t.test('a topic error crosses threads with its class and code', async (t) => {
  const back = fromWire(structuredClone(toWire(new TopicError('topic must not be empty'))))
  t.type(back, TopicError)
  t.equal((back as TopicError).code, 'ERR_BAD_TOPIC')
  t.equal(back.message, 'topic must not be empty')
})
