import t from 'tap'
import { start } from '../../lib/index.js'
import { fixture, waitFor } from '../helpers.js'

t.test('a dynamic supervisor starts, restarts and stops children at run time', async (t) => {
  const rt = await start({ children: [
    { id: 'fixed', module: fixture('counter.ts') },
    { id: 'pool', type: 'dynamic_supervisor', maxChildren: 2 },
  ] })
  t.teardown(() => rt.close())
  t.same(rt.whichChildren('pool'), [])

  await rt.startChild('pool', { id: 'w1', module: fixture('faulty.ts') })
  await rt.startChild('pool', { id: 'w2', module: fixture('counter.ts'), args: { start: 100 } })
  t.same(rt.whichChildren('pool').map((c) => [c.id, c.status]), [['w1', 'running'], ['w2', 'running']])
  t.ok(await rt.call('w2', 'count') as number >= 100)

  await t.rejects(rt.startChild('pool', { id: 'w3', module: fixture('counter.ts') }), {
    code: 'ERR_INVALID_ARGUMENT', message: 'supervisor "root/pool" already has 2 children, its maxChildren',
  })
  await t.rejects(rt.startChild('pool', { id: 'fixed', module: fixture('counter.ts') }), {
    code: 'ERR_SPEC_INVALID', message: /child\.id must be unique in the tree, got "fixed"/,
  })
  await t.rejects(rt.startChild('pool', { id: 'w3', module: fixture('counter.ts'), restart: 'sometimes' }), {
    code: 'ERR_SPEC_INVALID', message: 'invalid child spec: child.restart must be one of permanent|transient|temporary, got "sometimes"',
  })
  await t.rejects(rt.startChild('nope', { id: 'w3', module: fixture('counter.ts') }), { code: 'ERR_ACTOR_NOT_FOUND' })

  const restarted = waitFor(rt, 'child:restarted', (e: { id: string }) => e.id === 'w1')
  await rt.call('w1', 'throw')
  t.match(await restarted, { supervisor: 'root/pool', id: 'w1', restarts: 1 })

  await rt.terminateChild('pool', 'w1')
  t.same(rt.whichChildren('pool').map((c) => c.id), ['w2'])
  await t.rejects(rt.call('w1', 'count'), { code: 'ERR_ACTOR_NOT_FOUND' })
  await t.rejects(rt.terminateChild('pool', 'w1'), { code: 'ERR_ACTOR_NOT_FOUND', message: 'supervisor "root/pool" has no child "w1"' })
  await rt.startChild('pool', { id: 'w1', module: fixture('counter.ts') })
  t.same(rt.whichChildren('pool').map((c) => c.id), ['w2', 'w1'])
})

t.test('a child whose start fails is not added', async (t) => {
  const rt = await start({ children: [{ id: 'pool', type: 'dynamic_supervisor' }] })
  t.teardown(() => rt.close())
  await t.rejects(rt.startChild('pool', { id: 'bad', module: fixture('faulty.ts'), args: { failInit: 'throw' } }), { code: 'ERR_ACTOR_INIT' })
  t.same(rt.whichChildren('pool'), [])
})
