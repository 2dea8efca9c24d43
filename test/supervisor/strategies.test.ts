// OTP strategies, restart types, intensity and ordering, each with three
// children, asserted by which threads were replaced and by the order of events.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { Runtime, Strategy } from '../../lib/index.js'
import { fixture, record, waitFor } from '../helpers.js'

const counter = fixture('counter.ts')
const faulty = fixture('faulty.ts')

async function three (strategy: Strategy, middle: Record<string, unknown> = {}): Promise<Runtime> {
  return start({ strategy, maxRestarts: 5, children: [
    { id: 'a', module: counter },
    { id: 'b', module: faulty, ...middle },
    { id: 'c', module: counter },
  ] })
}

function threads (rt: Runtime): Record<string, number | undefined> {
  return Object.fromEntries(rt.whichChildren().map((c) => [c.id, c.threadId]))
}

const cases: Array<[Strategy, string[], string[]]> = [
  // strategy, children replaced, events after b's crash
  ['one_for_one', ['b'], ['child:exited:b', 'child:started:b', 'child:restarted:b']],
  ['one_for_all', ['a', 'b', 'c'], [
    'child:exited:b', 'child:exited:c', 'child:exited:a',
    'child:started:a', 'child:restarted:a', 'child:started:b', 'child:restarted:b', 'child:started:c', 'child:restarted:c',
  ]],
  ['rest_for_one', ['b', 'c'], [
    'child:exited:b', 'child:exited:c',
    'child:started:b', 'child:restarted:b', 'child:started:c', 'child:restarted:c',
  ]],
]

for (const [strategy, replaced, events] of cases) {
  t.test(`${strategy}: a crash of the middle child restarts ${replaced.join(', ')}`, async (t) => {
    const rt = await three(strategy)
    t.teardown(() => rt.destroy())
    const before = threads(rt)
    const log = record(rt, ['child:exited', 'child:started', 'child:restarted'])
    const last = replaced[replaced.length - 1]
    const done = waitFor<{ id: string }>(rt, 'child:restarted', (e) => e.id === last)
    await rt.call('b', 'throw')
    await done
    t.same(log, events)
    const after = threads(rt)
    for (const id of ['a', 'b', 'c']) {
      if (replaced.includes(id)) t.not(after[id], before[id], `${id} was restarted`)
      else t.equal(after[id], before[id], `${id} was left alone`)
    }
    t.same(rt.whichChildren().map((c) => [c.id, c.status, c.restarts]),
      ['a', 'b', 'c'].map((id) => [id, 'running', replaced.includes(id) ? 1 : 0]))
  })
}

t.test('restart types', async (t) => {
  t.test('permanent: restarted even after a normal exit', async (t) => {
    const rt = await three('one_for_one', { restart: 'permanent' })
    t.teardown(() => rt.destroy())
    const restarted = waitFor(rt, 'child:restarted', (e: { id: string }) => e.id === 'b')
    await rt.call('b', 'stop-normal')
    t.match(await restarted, { reason: { kind: 'normal' } })
  })

  t.test('transient: not restarted after a normal exit', async (t) => {
    const rt = await three('one_for_all', { restart: 'transient' })
    t.teardown(() => rt.destroy())
    const exited = waitFor(rt, 'child:exited', (e: { id: string }) => e.id === 'b')
    await rt.call('b', 'stop-normal')
    t.match(await exited, { reason: { kind: 'normal' } })
    await rt.call('a', 'count') // the queue has handled the exit by the time a call round-trips
    t.same(rt.whichChildren().map((c) => [c.id, c.status, c.restarts]), [['a', 'running', 0], ['b', 'stopped', 0], ['c', 'running', 0]])
  })

  t.test('transient: restarted after a failure', async (t) => {
    const rt = await three('one_for_one', { restart: 'transient' })
    t.teardown(() => rt.destroy())
    const restarted = waitFor(rt, 'child:restarted', (e: { id: string }) => e.id === 'b')
    await rt.call('b', 'stop-error')
    t.match(await restarted, { reason: { kind: 'error', error: { message: 'giving up' } } })
  })

  t.test('temporary: never restarted, and forgotten', async (t) => {
    const rt = await three('one_for_one', { restart: 'temporary' })
    t.teardown(() => rt.destroy())
    let restarted = 0
    rt.on('child:restarted', () => restarted++)
    const exited = waitFor(rt, 'child:exited', (e: { id: string }) => e.id === 'b')
    await rt.call('b', 'throw')
    await exited
    await rt.call('a', 'count')
    t.equal(restarted, 0)
    t.same(rt.whichChildren().map((c) => c.id), ['a', 'c'])
  })

  t.test('temporary siblings stopped by one_for_all are not restarted either', async (t) => {
    const rt = await start({ strategy: 'one_for_all', children: [
      { id: 'a', module: counter, restart: 'temporary' },
      { id: 'b', module: faulty },
      { id: 'c', module: counter },
    ] })
    t.teardown(() => rt.destroy())
    const done = waitFor(rt, 'child:restarted', (e: { id: string }) => e.id === 'c')
    await rt.call('b', 'throw')
    await done
    t.same(rt.whichChildren().map((c) => [c.id, c.status]), [['b', 'running'], ['c', 'running']])
  })
})

t.test('intensity: more than maxRestarts in maxSeconds stops the tree in reverse order', async (t) => {
  const rt = await start({ maxRestarts: 2, maxSeconds: 60, children: [
    { id: 'a', module: counter },
    { id: 'b', module: faulty },
    { id: 'c', module: counter },
  ] })
  t.teardown(() => rt.destroy())
  for (let i = 1; i <= 2; i++) {
    const restarted = waitFor(rt, 'child:restarted', (e: { id: string, restarts: number }) => e.id === 'b' && e.restarts === i)
    await rt.call('b', 'throw')
    await restarted
  }
  const log = record(rt, ['child:exited', 'supervisor:intensity', 'fatal'])
  const fatal = waitFor(rt, 'fatal')
  await rt.call('b', 'throw')
  t.match(await fatal, { error: { code: 'ERR_RESTART_INTENSITY', message: 'supervisor "root" reached its restart intensity (more than 2 restarts in 60 s)' } })
  t.same(log, ['child:exited:b', 'supervisor:intensity:', 'child:exited:c', 'child:exited:a', 'fatal:'])
  t.equal(rt.state, 'failed')
})

t.test('a nested supervisor that gives up fails to its parent, which restarts it', async (t) => {
  const rt = await start({ strategy: 'one_for_one', maxRestarts: 3, children: [
    { id: 'outside', module: counter },
    { id: 'inner', type: 'supervisor', maxRestarts: 0, children: [
      { id: 'x', module: counter },
      { id: 'y', module: faulty },
    ] },
  ] })
  t.teardown(() => rt.destroy())
  const outsideThread = rt.whichChildren()[0]?.threadId
  const log = record(rt, ['child:exited', 'child:started', 'child:restarted', 'supervisor:intensity'])
  const restarted = waitFor(rt, 'child:restarted', (e: { id: string }) => e.id === 'inner')
  await rt.call('y', 'throw')
  t.match(await restarted, { supervisor: 'root', id: 'inner', restarts: 1, reason: { kind: 'error', error: { code: 'ERR_RESTART_INTENSITY' } } })
  t.same(log, [
    'child:exited:y', 'supervisor:intensity:', 'child:exited:x', 'child:exited:inner',
    'child:started:x', 'child:started:y', 'child:started:inner', 'child:restarted:inner',
  ])
  const [outside, inner] = rt.whichChildren()
  t.equal(outside?.threadId, outsideThread, 'the sibling outside the failed subtree was left alone')
  t.same(inner?.children?.map((c) => [c.id, c.status]), [['x', 'running'], ['y', 'running']])
  t.equal(await rt.call('y', 'count').then((n) => typeof n), 'number')
})

t.test('children start in order and stop in reverse order, nested ones too', async (t) => {
  const rt = await start({ children: [
    { id: 'a', module: counter },
    { id: 'sub', type: 'supervisor', children: [{ id: 'b1', module: counter }, { id: 'b2', module: counter }] },
    { id: 'c', module: counter },
  ] })
  const started = rt.whichChildren()
  t.same(started.map((c) => c.id), ['a', 'sub', 'c'])
  const log = record(rt, ['child:exited'])
  await rt.close()
  t.same(log, ['child:exited:c', 'child:exited:b2', 'child:exited:b1', 'child:exited:sub', 'child:exited:a'])
  t.equal(rt.state, 'closed')
})

t.test('start order is observable from the telemetry', async (t) => {
  const { Runtime } = await import('../../lib/runtime.js')
  const { parseTreeSpec } = await import('../../lib/supervisor/spec.js')
  const rt = new Runtime(parseTreeSpec({ children: [
    { id: 'first', module: counter }, { id: 'second', module: counter }, { id: 'third', module: counter },
  ] }), process.cwd())
  const log = record(rt, ['child:started'])
  await rt.startTree()
  t.teardown(() => rt.close())
  t.same(log, ['child:started:first', 'child:started:second', 'child:started:third'])
})
