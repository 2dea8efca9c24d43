// The `pubsub` key of builtin:broadcaster: defaults filled in, `local` as no adapter, and every
// refusal naming the place and the value. No Redis needed: the spec is checked before any thread starts.
import t from 'tap'
import { SpecError } from '../../lib/errors.js'
import { parseTreeSpec } from '../../lib/supervisor/spec.js'
import type { WorkerChildSpec } from '../../lib/supervisor/spec.js'
import { fixture } from '../helpers.js'

const SECRET = 'a-secret-of-at-least-thirty-two-bytes'
const endpoint = { secret: SECRET, channels: [['feed:*', fixture('channels/feed.ts')]] }

function args (pubsub: unknown): unknown {
  const tree = parseTreeSpec({ children: [{ id: 'out', module: 'builtin:broadcaster', endpoint, pubsub }] })
  return (tree.children[0] as WorkerChildSpec).stages?.[0]?.args
}

t.test('redis: defaults filled in beside the endpoint settings', async (t) => {
  t.match(args({ adapter: 'redis', url: 'redis://127.0.0.1:6379' }), {
    endpoint: { secret: SECRET },
    pubsub: { adapter: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'stagewire:', connectTimeoutMs: 5000, maxInFlight: 10_000 },
  })
  t.match(args({ adapter: 'redis', url: 'rediss://user:pw@cache:6380/2', prefix: 'app1:', connectTimeoutMs: 100, maxInFlight: 5 }), {
    pubsub: { url: 'rediss://user:pw@cache:6380/2', prefix: 'app1:', connectTimeoutMs: 100, maxInFlight: 5 },
  })
})

t.test('local, or no key: no adapter', async (t) => {
  t.notOk('pubsub' in (args({ adapter: 'local' }) as object))
  t.notOk('pubsub' in (args(undefined) as object))
})

const bad: Array<[string, unknown, string, string | RegExp, string?]> = [
  ['an unknown adapter', { adapter: 'nats' }, 'children[0].pubsub.adapter', 'children[0].pubsub.adapter must be one of local|redis, got "nats"'],
  ['no url', { adapter: 'redis' }, 'children[0].pubsub.url', 'children[0].pubsub.url is required for adapter "redis" (e.g. "redis://127.0.0.1:6379")'],
  ['not a redis url', { adapter: 'redis', url: 'http://cache:6379' }, 'children[0].pubsub.url', /children\[0\]\.pubsub\.url: must be a redis:\/\/ or rediss:\/\/ URL .*got "http:\/\/cache:6379"/],
  ['not a url', { adapter: 'redis', url: 'cache' }, 'children[0].pubsub.url', /got "cache"/],
  ['a glob in the prefix', { adapter: 'redis', url: 'redis://h', prefix: 'app*' }, 'children[0].pubsub.prefix', 'children[0].pubsub.prefix must be a non-empty string without spaces or glob characters (* ? [ ]), got "app*"'],
  ['an unknown key', { adapter: 'redis', url: 'redis://h', prefx: 'a:' }, 'children[0].pubsub.prefx', 'children[0].pubsub.prefx is not a known key'],
  ['redis settings on local', { adapter: 'local', url: 'redis://h' }, 'children[0].pubsub.url', 'children[0].pubsub.url is for adapter "redis"; adapter "local" keeps broadcasts on this server and takes no settings'],
  ['not an object', 'redis://h', 'children[0].pubsub', 'children[0].pubsub must be an object, got "redis://h"'],
  ['pubsub on another module', null, 'children[0].pubsub', 'children[0].pubsub is for module builtin:broadcaster, the stage that publishes to the other servers'],
]

for (const [name, pubsub, path, message] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    const children = pubsub === null
      ? [{ id: 'q', stage: 'producer', module: 'builtin:queue', pubsub: { adapter: 'redis', url: 'redis://h' } }]
      : [{ id: 'out', module: 'builtin:broadcaster', endpoint, pubsub }]
    const err = t.throws(() => parseTreeSpec({ children })) as SpecError
    t.type(err, SpecError)
    t.equal(err.code, 'ERR_SPEC_INVALID')
    t.equal(err.path, path)
    if (typeof message === 'string') t.equal(err.message, `invalid spec: ${message}`)
    else t.match(err.message, message)
  })
}
