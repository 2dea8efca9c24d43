// The `endpoint` key of builtin:broadcaster: defaults, the secret from the environment, channel
// modules resolved, and every refusal naming the place and the value.
import t from 'tap'
import { pathToFileURL } from 'node:url'
import { SpecError } from '../../lib/errors.js'
import { parseTreeSpec } from '../../lib/supervisor/spec.js'
import type { WorkerChildSpec } from '../../lib/supervisor/spec.js'
import { fixture } from '../helpers.js'

const SECRET = 'a-secret-of-at-least-thirty-two-bytes'
const feed = fixture('channels/feed.ts')
const source = { id: 'source', stage: 'producer', module: 'builtin:queue' }

function broadcaster (endpoint: unknown, extra: Record<string, unknown> = {}): unknown[] {
  return [source, { id: 'out', module: 'builtin:broadcaster', subscribeTo: ['source'], endpoint, ...extra }]
}

t.test('a broadcaster is a consumer whose args are its endpoint settings', async (t) => {
  const tree = parseTreeSpec({ children: broadcaster({ port: 4100, secret: SECRET, channels: [['feed:*', feed]], outboundPolicy: 'conflate' }) })
  const out = tree.children[1] as WorkerChildSpec
  t.match(out.stages?.[0], {
    id: 'out',
    kind: 'consumer',
    args: { endpoint: { port: 4100, secret: SECRET, channels: [['feed:*', pathToFileURL(feed).href]], outboundPolicy: 'conflate' } },
  })
})

t.test('the secret can come from the environment; a broadcaster needs no producer', async (t) => {
  process.env.STAGEWIRE_TEST_SECRET = SECRET
  t.teardown(() => { delete process.env.STAGEWIRE_TEST_SECRET })
  const tree = parseTreeSpec({ children: [{ id: 'out', module: 'builtin:broadcaster', endpoint: { secretEnv: 'STAGEWIRE_TEST_SECRET', channels: [['feed:*', feed]] } }] })
  const stage = (tree.children[0] as WorkerChildSpec).stages?.[0]
  t.match(stage, { kind: 'consumer', subscribeTo: [], args: { endpoint: { secret: SECRET } } })
  t.notOk('secretEnv' in ((stage?.args as { endpoint: object }).endpoint), 'only the secret itself travels')
})

const bad: Array<[string, unknown[], string, RegExp | string]> = [
  ['no endpoint', [{ id: 'out', module: 'builtin:broadcaster' }], 'children[0].endpoint', 'children[0].endpoint is required'],
  ['endpoint on another module', [source, { id: 'c', stage: 'consumer', module: fixture('stages/checker.ts'), subscribeTo: ['source'], endpoint: {} }],
    'children[1].endpoint', 'children[1].endpoint is for module builtin:broadcaster, the stage that runs the endpoint'],
  ['a broadcaster that is not a consumer', [{ id: 'out', stage: 'producer', module: 'builtin:broadcaster', endpoint: { secret: SECRET, channels: [['feed:*', feed]] } }],
    'children[0].stage', 'children[0].stage of builtin:broadcaster must be consumer (or left out), got "producer"'],
  ['args on a broadcaster', broadcaster({ secret: SECRET, channels: [['feed:*', feed]] }, { args: { port: 1 } }),
    'children[1].args', 'children[1].args: builtin:broadcaster takes its settings from endpoint, not args'],
  ['no secret', broadcaster({ channels: [['feed:*', feed]] }),
    'children[1].endpoint.secret', 'children[1].endpoint needs exactly one of secret and secretEnv (the name of an environment variable holding it)'],
  ['both secrets', broadcaster({ secret: SECRET, secretEnv: 'X', channels: [['feed:*', feed]] }),
    'children[1].endpoint.secret', /needs exactly one of secret and secretEnv/],
  ['an unset environment variable', broadcaster({ secretEnv: 'STAGEWIRE_SURELY_UNSET', channels: [['feed:*', feed]] }),
    'children[1].endpoint.secretEnv', 'children[1].endpoint.secretEnv names "STAGEWIRE_SURELY_UNSET", which is not set in the environment'],
  ['a short secret', broadcaster({ secret: 'short', channels: [['feed:*', feed]] }),
    'children[1].endpoint.secret', 'children[1].endpoint.secret must be at least 32 bytes, got 5'],
  ['a port out of range', broadcaster({ secret: SECRET, port: 70000, channels: [['feed:*', feed]] }),
    'children[1].endpoint.port', 'children[1].endpoint.port must be <= 65535, got 70000'],
  ['a bad policy', broadcaster({ secret: SECRET, outboundPolicy: 'drop-all', channels: [['feed:*', feed]] }),
    'children[1].endpoint.outboundPolicy', 'children[1].endpoint.outboundPolicy must be one of drop-oldest|conflate|disconnect, got "drop-all"'],
  ['a bad path', broadcaster({ secret: SECRET, path: 'socket/', channels: [['feed:*', feed]] }),
    'children[1].endpoint.path', /children\[1\]\.endpoint\.path must start with \/ and not end with one/],
  ['an unknown key', broadcaster({ secret: SECRET, prot: 4000, channels: [['feed:*', feed]] }),
    'children[1].endpoint.prot', 'children[1].endpoint.prot is not a known key'],
  ['no channels', broadcaster({ secret: SECRET, channels: [] }),
    'children[1].endpoint.channels', 'children[1].endpoint.channels must be >= 1, got []'],
  ['a channel that is not a pair', broadcaster({ secret: SECRET, channels: [['feed:*']] }),
    'children[1].endpoint.channels[0]', /children\[1\]\.endpoint\.channels\[0\]/],
  ['a bad topic pattern', broadcaster({ secret: SECRET, channels: [['feed*:x', feed]] }),
    'children[1].endpoint.channels', /children\[1\]\.endpoint\.channels\[0\]/],
  ['a channel module that is not there', broadcaster({ secret: SECRET, channels: [['feed:*', './nowhere.js']] }),
    'children[1].endpoint.channels[0][1]', /children\[1\]\.endpoint\.channels\[0\]\[1\] names no file: ".\/nowhere.js"/],
]

for (const [name, children, path, message] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    t.throws(() => parseTreeSpec({ children }), SpecError)
    try {
      parseTreeSpec({ children })
    } catch (err) {
      t.equal((err as SpecError).code, 'ERR_SPEC_INVALID')
      t.equal((err as SpecError).path, path)
      t.match((err as SpecError).message, typeof message === 'string' ? `invalid spec: ${message}` : message)
    }
  })
}
