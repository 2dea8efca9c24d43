// feed:<key> topics, and the seeded rule choosing each client's topics.
import t from 'tap'
import { InvalidArgumentError } from '../../lib/errors.js'
import { assignTopics, feedTopic } from '../../lib/demo/topics.js'
import type { TopicRule } from '../../lib/demo/topics.js'

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']

t.test('feedTopic', async (t) => {
  t.equal(feedTopic('docker/docker'), 'feed:docker/docker')
  t.equal(feedTopic('#en.wikipedia'), 'feed:#en.wikipedia')
})

t.test('assignTopics: deterministic, distinct per client, every key covered', async (t) => {
  const rule = { keys: KEYS, perClient: 3, seed: 11 }
  const lists = assignTopics(20, rule)
  t.same(assignTopics(20, rule), lists, 'the same arguments give the same lists')
  t.notSame(assignTopics(20, { ...rule, seed: 12 }), lists, 'another seed, other lists')
  t.equal(lists.length, 20)
  t.ok(lists.every((l) => l.length === 3 && new Set(l).size === 3), 'three distinct topics each')
  t.ok(lists.every((l, i) => l[0] === `feed:${KEYS[i % KEYS.length] as string}`), 'client i first joins key i mod K')
  t.same(new Set(lists.flat()), new Set(KEYS.map(feedTopic)), 'every key has a subscriber')
  t.ok(lists.every((l) => l.every((topic) => KEYS.map(feedTopic).includes(topic))), 'only the given keys')
  t.same(assignTopics(2, { keys: ['x', 'y'], perClient: 5, seed: 1 }).map((l) => [...l].sort()), [['feed:x', 'feed:y'], ['feed:x', 'feed:y']], 'more per client than keys: all keys')
})

t.test('assignTopics: errors', async (t) => {
  const bad: Array<[number, TopicRule, string]> = [
    [0, { keys: KEYS, perClient: 1, seed: 1 }, 'clients must be a positive integer, got 0'],
    [1, { keys: [], perClient: 1, seed: 1 }, 'rule.keys must be a non-empty array of keys, got an array'],
    [1, { keys: ['a', ''], perClient: 1, seed: 1 }, 'rule.keys[1] must be a non-empty string, got ""'],
    [1, { keys: ['a', 'a'], perClient: 1, seed: 1 }, 'rule.keys must not repeat a key'],
    [1, { keys: KEYS, perClient: 0, seed: 1 }, 'rule.perClient must be a positive integer, got 0'],
    [1, { keys: KEYS, perClient: 1, seed: -1 }, 'rule.seed must be an integer from 0 to 4294967295, got -1'],
  ]
  for (const [clients, rule, message] of bad) t.throws(() => assignTopics(clients, rule), new InvalidArgumentError(message), message)
})
