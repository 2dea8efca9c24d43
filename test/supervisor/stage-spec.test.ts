// Stage keys of the tree spec: defaults, thread grouping, and every refusal
// naming the place and the value.
import t from 'tap'
import { pathToFileURL } from 'node:url'
import { SpecError } from '../../lib/errors.js'
import { parseTreeSpec } from '../../lib/supervisor/spec.js'
import type { WorkerChildSpec } from '../../lib/supervisor/spec.js'
import { fixture } from '../helpers.js'

const producer = fixture('stages/counter-producer.ts')
const consumer = fixture('stages/checker.ts')
const keys = `${fixture('stages/keys.ts')}#byUser`

t.test('defaults and thread grouping', async (t) => {
  const tree = parseTreeSpec({ children: [
    { id: 'source', stage: 'producer', module: 'builtin:queue', thread: 'ingest' },
    { id: 'tag', stage: 'producer_consumer', module: consumer, thread: 'ingest', subscribeTo: ['source'], dispatcher: { type: 'partition', partitions: 2, key: keys } },
    { id: 'sink', stage: 'consumer', module: consumer, subscribeTo: [{ id: 'tag', maxDemand: 10, partition: 1 }] },
  ] })
  t.same(tree.children.map((c) => c.id), ['ingest', 'sink'], 'stages of one thread are one child, named after the thread')
  const ingest = tree.children[0] as WorkerChildSpec
  t.same(ingest.stages?.map((s) => s.id), ['source', 'tag'])
  t.match(ingest.stages?.[0], { kind: 'producer', bufferSize: 10000, bufferKeep: 'last', highWaterMark: 5000, dispatcher: { type: 'demand' }, subscribeTo: [] })
  t.match(ingest.stages?.[1], {
    dispatcher: { type: 'partition', partitions: 2, by: 'key', fn: { url: pathToFileURL(fixture('stages/keys.ts')).href, name: 'byUser' } },
    subscribeTo: [{ producer: 'source', maxDemand: 1000, minDemand: 500, cancel: 'permanent' }],
  })
  t.match((tree.children[1] as WorkerChildSpec).stages?.[0]?.subscribeTo, [{ producer: 'tag', maxDemand: 10, minDemand: 5, partition: 1 }])
})

const bad: Array<[string, unknown[], string, string]> = [
  ['a stage key on a plain actor', [{ id: 'a', module: consumer, subscribeTo: ['x'] }],
    'children[0].subscribeTo', 'children[0].subscribeTo is for pipeline stages; set children[0].stage to producer, producer_consumer or consumer'],
  ['a subscription to no stage', [{ id: 'c', stage: 'consumer', module: consumer, subscribeTo: ['ghost'] }],
    'children[0].subscribeTo[0].id', 'children[0].subscribeTo[0].id names no stage in the tree: "ghost"'],
  ['a subscription to a consumer', [{ id: 'c1', stage: 'consumer', module: consumer, subscribeTo: ['c2'] }, { id: 'c2', stage: 'consumer', module: consumer, subscribeTo: ['c1'] }],
    'children[0].subscribeTo[0].id', 'children[0].subscribeTo[0].id names a consumer, which has nothing to subscribe to: "c2"'],
  ['minDemand not below maxDemand', [{ id: 'p', stage: 'producer', module: producer }, { id: 'c', stage: 'consumer', module: consumer, subscribeTo: [{ id: 'p', maxDemand: 10, minDemand: 10 }] }],
    'children[1].subscribeTo[0].minDemand', 'children[1].subscribeTo[0].minDemand must be less than maxDemand (10), got 10'],
  ['a producer that subscribes', [{ id: 'p', stage: 'producer', module: producer, subscribeTo: ['p2'] }, { id: 'p2', stage: 'producer', module: producer }],
    'children[0].subscribeTo', 'children[0].subscribeTo must be empty for a producer, which subscribes to nothing'],
  ['a consumer without subscribeTo', [{ id: 'c', stage: 'consumer', module: consumer }],
    'children[0].subscribeTo', 'children[0].subscribeTo is required for a consumer'],
  ['a bad cancel mode', [{ id: 'p', stage: 'producer', module: producer }, { id: 'c', stage: 'consumer', module: consumer, subscribeTo: [{ id: 'p', cancel: 'never' }] }],
    'children[1].subscribeTo[0].cancel', 'children[1].subscribeTo[0].cancel must be one of permanent|transient|temporary, got "never"'],
  ['a bad bufferKeep', [{ id: 'p', stage: 'producer', module: producer, bufferKeep: 'middle' }],
    'children[0].bufferKeep', 'children[0].bufferKeep must be one of first|last, got "middle"'],
  ['a partition dispatcher without a key', [{ id: 'p', stage: 'producer', module: producer, dispatcher: { type: 'partition', partitions: 2 } }],
    'children[0].dispatcher', 'children[0].dispatcher needs exactly one of key or hash ("./module.js#function")'],
  ['a function reference without #', [{ id: 'p', stage: 'producer', module: producer, dispatcher: { type: 'partition', partitions: 2, key: './keys.js' } }],
    'children[0].dispatcher.key', 'children[0].dispatcher.key must name a function as "./module.js#exportName", got "./keys.js"'],
  ['tasks on a consumer', [{ id: 'p', stage: 'producer', module: producer }, { id: 'c', stage: 'consumer', module: consumer, subscribeTo: ['p'], tasks: { maxRetries: 1 } }],
    'children[1].tasks', 'children[1].tasks is for a consumer_supervisor, not a consumer'],
  ['an unknown built-in', [{ id: 'p', stage: 'producer', module: 'builtin:firehose' }],
    'children[0].module', 'children[0].module names no built-in module: "builtin:firehose" (built-ins: builtin:queue, builtin:broadcaster)'],
  ['a thread-level key on a later stage of a thread', [{ id: 'p', stage: 'producer', module: producer, thread: 't' }, { id: 'c', stage: 'consumer', module: consumer, subscribeTo: ['p'], thread: 't', restart: 'temporary' }],
    'children[1].restart', 'children[1].restart belongs to thread "t" as a whole: set it on its first stage (p)'],
  ['a thread shared across supervisors', [
    { id: 'p', stage: 'producer', module: producer, thread: 't' },
    { id: 's', type: 'supervisor', children: [{ id: 'c', stage: 'consumer', module: consumer, subscribeTo: ['p'], thread: 't' }] },
  ], 'children[1].children[0].thread', 'children[1].children[0].thread "t" is already used by stages of the root supervisor; a thread\'s stages must share one supervisor'],
  ['a thread name taken by another child', [{ id: 't', module: consumer }, { id: 'p', stage: 'producer', module: producer, thread: 't' }],
    'children[1].thread', 'children[1].thread must be unique in the tree, got "t" (already used at children[0].id)'],
]

for (const [what, children, path, message] of bad) {
  t.test(`refuses ${what}`, async (t) => {
    const err = (() => { try { parseTreeSpec({ children }); return undefined } catch (e) { return e } })()
    t.type(err, SpecError)
    t.equal((err as SpecError).path, path)
    t.match((err as SpecError).message, message)
  })
}

t.test('refuses an unknown dispatcher', async (t) => {
  t.throws(() => parseTreeSpec({ children: [{ id: 'p', stage: 'producer', module: producer, dispatcher: 'fanout' }] }), {
    code: 'ERR_SPEC_INVALID', message: 'invalid spec: children[0].dispatcher.type must be one of demand|broadcast|partition, got "fanout"',
  })
})

t.test('a subscription to a partition dispatcher must name one of its partitions', async (t) => {
  const tree = (sub: Record<string, unknown>): unknown => ({ children: [
    { id: 'p', stage: 'producer', module: producer, dispatcher: { type: 'partition', partitions: 2, key: keys } },
    { id: 'c', stage: 'consumer', module: consumer, subscribeTo: [{ id: 'p', ...sub }] },
  ] })
  t.throws(() => parseTreeSpec(tree({})), { path: 'children[1].subscribeTo[0].partition', message: 'children[1].subscribeTo[0].partition must name one of the 2 partitions of "p" (0 to 1), got undefined' })
  t.throws(() => parseTreeSpec(tree({ partition: 2 })), { message: /partition must name one of the 2 partitions of "p" \(0 to 1\), got 2/ })
  t.doesNotThrow(() => parseTreeSpec(tree({ partition: 1 })))
  t.throws(() => parseTreeSpec({ children: [
    { id: 'p', stage: 'producer', module: producer },
    { id: 'c', stage: 'consumer', module: consumer, subscribeTo: [{ id: 'p', partition: 0 }] },
  ] }), { message: /children\[1\]\.subscribeTo\[0\]\.partition is for subscriptions to a partition dispatcher; "p" uses demand/ })
})

t.test('refuses a subscription cycle', async (t) => {
  t.throws(() => parseTreeSpec({ children: [
    { id: 'p', stage: 'producer', module: producer },
    { id: 'a', stage: 'producer_consumer', module: consumer, subscribeTo: ['p', 'b'] },
    { id: 'b', stage: 'producer_consumer', module: consumer, subscribeTo: ['a'] },
  ] }), { code: 'ERR_SPEC_INVALID', message: /children\[1\]\.subscribeTo\[0\] makes a subscription cycle: "a" would receive its own events back/ })
})

t.test('a refused stage is one problem, not also one for each of its subscribers', async (t) => {
  const err = (() => {
    try {
      parseTreeSpec({ children: [
        { id: 'p', stage: 'producer', module: producer, bufferSize: -5 },
        { id: 'c', stage: 'consumer', module: consumer, subscribeTo: ['p'] },
      ] })
      return undefined
    } catch (e) { return e }
  })()
  t.type(err, SpecError)
  t.equal((err as SpecError).message, 'invalid spec: children[0].bufferSize must be >= 0, got -5')
})
