import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SpecError } from '../../lib/errors.js'
import { loadTreeSpecFile, parseChildSpec, parseTreeSpec } from '../../lib/supervisor/spec.js'
import { fixture } from '../helpers.js'

const mod = fixture('counter.ts')

t.test('a valid spec gets every default filled in and its modules resolved', async (t) => {
  const tree = parseTreeSpec({
    children: [
      { id: 'a', module: mod },
      { id: 'sup', type: 'supervisor', strategy: 'rest_for_one', children: [{ id: 'b', module: mod, restart: 'transient', shutdown: 'brutal_kill' }] },
      { id: 'dyn', type: 'dynamic_supervisor', maxChildren: 10 },
    ],
  })
  t.same(tree, {
    strategy: 'one_for_one',
    maxRestarts: 3,
    maxSeconds: 5,
    codec: 'shape',
    children: [
      { type: 'worker', id: 'a', module: pathToFileURL(mod).href, args: undefined, restart: 'permanent', shutdown: 5000, heartbeatMs: 1000, heartbeatTimeoutMs: 5000, statsMs: 1000, startTimeoutMs: 10000, resourceLimits: undefined },
      {
        type: 'supervisor', id: 'sup', strategy: 'rest_for_one', maxRestarts: 3, maxSeconds: 5, restart: 'permanent', shutdown: 'infinity',
        children: [{ type: 'worker', id: 'b', module: pathToFileURL(mod).href, args: undefined, restart: 'transient', shutdown: 'brutal_kill', heartbeatMs: 1000, heartbeatTimeoutMs: 5000, statsMs: 1000, startTimeoutMs: 10000, resourceLimits: undefined }],
      },
      { type: 'dynamic_supervisor', id: 'dyn', maxRestarts: 3, maxSeconds: 5, maxChildren: 10, restart: 'permanent', shutdown: 'infinity' },
    ],
  })
})

const bad: Array<[string, unknown, string, string]> = [
  ['a bad restart type', { children: [{ id: 'a', module: mod }, { id: 'b', module: mod }, { id: 'c', module: mod, restart: 'always' }] },
    'children[2].restart', 'children[2].restart must be one of permanent|transient|temporary, got "always"'],
  ['a bad strategy', { strategy: 'one_for_some', children: [] },
    'strategy', 'strategy must be one of one_for_one|one_for_all|rest_for_one, got "one_for_some"'],
  ['an unknown key', { children: [{ id: 'a', module: mod, restat: 'permanent' }] },
    'children[0].restat', 'children[0].restat is not a known key'],
  ['an unknown key at the root', { children: [], maxRestart: 3 },
    'maxRestart', 'maxRestart is not a known key'],
  ['a missing module', { children: [{ id: 'a' }] },
    'children[0].module', 'children[0].module is required'],
  ['a module that names no file', { children: [{ id: 'a', module: './no/such/file.js' }] },
    'children[0].module', 'children[0].module names no file: "./no/such/file.js"'],
  ['a duplicate id, even in another supervisor', { children: [{ id: 'a', module: mod }, { id: 's', type: 'supervisor', children: [{ id: 'a', module: mod }] }] },
    'children[1].children[0].id', 'children[1].children[0].id must be unique in the tree, got "a" (already used at children[0].id)'],
  ['a non-integer intensity', { maxRestarts: 1.5, children: [] },
    'maxRestarts', 'maxRestarts must be an integer, got 1.5'],
  ['a negative shutdown deep in the tree', { children: [{ id: 's', type: 'supervisor', children: [{ id: 'b', module: mod, shutdown: -1 }] }] },
    'children[0].children[0].shutdown', 'children[0].children[0].shutdown must be > 0, got -1'],
  ['an unknown child type', { children: [{ id: 'p', type: 'pool' }] },
    'children[0].type', 'children[0].type must be one of worker|supervisor|dynamic_supervisor, got "pool"'],
  ['a spec that is not an object', 'hello', '', 'the spec must be an object, got "hello"'],
  ['no children', {}, 'children', 'children is required'],
  ['an id with spaces', { children: [{ id: 'my actor', module: mod }] },
    'children[0].id', 'children[0].id must be a name of letters, digits and _ . : - (not starting with . : -), got "my actor"'],
  ['a heartbeat timeout shorter than the period', { children: [{ id: 'a', module: mod, heartbeatMs: 500, heartbeatTimeoutMs: 400 }] },
    'children[0].heartbeatTimeoutMs', 'children[0].heartbeatTimeoutMs must be greater than heartbeatMs (500), got 400'],
]

for (const [what, spec, path, message] of bad) {
  t.test(`refuses ${what}`, async (t) => {
    const err = (() => { try { parseTreeSpec(spec); return undefined } catch (e) { return e } })()
    t.type(err, SpecError)
    t.equal((err as SpecError).code, 'ERR_SPEC_INVALID')
    t.equal((err as SpecError).path, path)
    t.match((err as SpecError).message, message)
  })
}

t.test('every problem is reported at once', async (t) => {
  t.throws(() => parseTreeSpec({ strategy: 'x', children: [{ id: 'a', module: mod, restart: 'y' }] }), {
    message: 'invalid spec: strategy must be one of one_for_one|one_for_all|rest_for_one, got "x"; children[0].restart must be one of permanent|transient|temporary, got "y"',
  })
})

t.test('a spec file resolves modules relative to itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-spec-'))
  writeFileSync(join(dir, 'actor.js'), 'export default {}\n')
  writeFileSync(join(dir, 'tree.json'), JSON.stringify({ children: [{ id: 'a', module: './actor.js' }] }))
  const tree = loadTreeSpecFile(join(dir, 'tree.json'))
  t.equal(tree.children[0]?.type === 'worker' && tree.children[0].module, pathToFileURL(join(dir, 'actor.js')).href)
  writeFileSync(join(dir, 'broken.json'), '{ "children": [ }')
  t.throws(() => loadTreeSpecFile(join(dir, 'broken.json')), { code: 'ERR_SPEC_INVALID', message: /broken\.json is not valid JSON/ })
  t.throws(() => loadTreeSpecFile(join(dir, 'missing.json')), { code: 'ERR_SPEC_INVALID', message: /cannot read spec file/ })
})

t.test('a child spec for a dynamic supervisor must not reuse a running id', async (t) => {
  t.throws(() => parseChildSpec({ id: 'a', module: mod }, { takenIds: ['a'] }), {
    code: 'ERR_SPEC_INVALID', message: 'invalid child spec: child.id must be unique in the tree, got "a" (already used by a running child)',
  })
})

t.test('a supervisor that contains itself, or nesting past 100, is a SpecError, not a stack overflow', async (t) => {
  const loop: Record<string, unknown> = { id: 's', type: 'supervisor', children: [] }
  ;(loop.children as unknown[]).push(loop)
  t.throws(() => parseTreeSpec({ children: [loop] }), { code: 'ERR_SPEC_INVALID', path: 'children[0].children[0]', message: 'invalid spec: children[0].children[0] is children[0] again: a supervisor cannot contain itself' })
  let deep: Record<string, unknown> = { id: 'leaf', module: 'builtin:queue', stage: 'producer' }
  for (let i = 0; i < 2000; i++) deep = { id: `s${i}`, type: 'supervisor', children: [deep] }
  t.throws(() => parseTreeSpec({ children: [deep] }), { code: 'ERR_SPEC_INVALID', message: 'invalid spec: supervisors nest more than 100 deep (at children[0].children[0]...)' })
  let fine: Record<string, unknown> = { id: 'leaf', module: 'builtin:queue', stage: 'producer' }
  for (let i = 0; i < 20; i++) fine = { id: `f${i}`, type: 'supervisor', children: [fine] }
  t.doesNotThrow(() => parseTreeSpec({ children: [fine] }), 'twenty levels are fine')
})
