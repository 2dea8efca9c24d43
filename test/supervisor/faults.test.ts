// Each fault a child can have stays inside it: the host process lives on,
// the supervisor restarts the child, and a sibling keeps counting on the
// same thread throughout.
import t from 'tap'
import { start } from '../../lib/index.js'
import type { ChildRestartedEvent, Runtime } from '../../lib/index.js'
import { fixture, waitFor } from '../helpers.js'

async function tree (faulty: Record<string, unknown> = {}): Promise<Runtime> {
  return start({
    maxRestarts: 10,
    children: [
      { id: 'sibling', module: fixture('counter.ts'), args: { tickMs: 2 } },
      { id: 'faulty', module: fixture('faulty.ts'), heartbeatMs: 100, heartbeatTimeoutMs: 800, ...faulty },
    ],
  })
}

const faults: Array<[string, string, Record<string, unknown>, string, RegExp]> = [
  ['an uncaught exception', 'throw', {}, 'ERR_ACTOR_CRASHED', /crashed with an uncaught exception: Error: thrown outside any handler/],
  ['an unhandled rejection', 'reject', {}, 'ERR_ACTOR_CRASHED', /crashed with an unhandled rejection: Error: nobody catches this/],
  ['process.exit() in the worker', 'exit', {}, 'ERR_ACTOR_EXITED', /exited with code 7 without being asked to/],
  ['an infinite loop (missed heartbeats)', 'loop', {}, 'ERR_ACTOR_UNRESPONSIVE', /sent no heartbeat for \d+ ms \(timeout 800 ms\); terminated/],
  ['exceeding its memory limit', 'oom', { resourceLimits: { maxOldGenerationSizeMb: 24 } }, 'ERR_ACTOR_OUT_OF_MEMORY', /exceeded its memory limit/],
]

for (const [what, request, options, code, message] of faults) {
  t.test(`${what} is contained and restarted`, async (t) => {
    const rt = await tree(options)
    t.teardown(() => rt.destroy())
    const sibling = rt.whichChildren()[0]
    const before = await rt.call('sibling', 'count') as number
    const oldThread = rt.whichChildren()[1]?.threadId
    const restarted = waitFor<ChildRestartedEvent>(rt, 'child:restarted', (e) => e.id === 'faulty')
    await rt.call('faulty', request)
    const event = await restarted
    t.equal(event.reason.kind, 'error')
    t.match(event.reason.kind === 'error' && event.reason.error, { code, message })
    t.equal(event.restarts, 1)
    const after = rt.whichChildren()
    t.not(after[1]?.threadId, oldThread, 'the faulty child runs on a new thread')
    t.equal(after[0]?.threadId, sibling?.threadId, 'the sibling was left alone')
    t.equal(after[0]?.restarts, 0)
    t.ok(await rt.call('sibling', 'count') as number > before, 'the sibling kept counting')
    t.equal(await rt.call('faulty', 'count').then((n) => typeof n), 'number', 'the new instance answers under the same name')
  })
}

t.test('a failing init at start fails start(), and the host carries on', async (t) => {
  await t.rejects(start({ children: [
    { id: 'ok', module: fixture('counter.ts') },
    { id: 'bad', module: fixture('faulty.ts'), args: { failInit: 'throw' } },
  ] }), { code: 'ERR_ACTOR_INIT', message: /actor "bad" failed to start: Error: init refused/ })
})

t.test('a child that keeps failing at restart is stopped by the intensity limit', async (t) => {
  const rt = await start({ maxRestarts: 2, maxSeconds: 30, children: [
    { id: 'sibling', module: fixture('counter.ts') },
    { id: 'faulty', module: fixture('faulty.ts') },
  ] })
  t.teardown(() => rt.destroy())
  const restarts: string[] = []
  rt.on('child:restarted', (e) => restarts.push(e.id))
  const fatal = waitFor<{ error: Error }>(rt, 'fatal')
  const intensity = waitFor(rt, 'supervisor:intensity')
  process.env.FAULTY_FAIL_INIT = '1'
  t.teardown(() => { delete process.env.FAULTY_FAIL_INIT })
  await rt.call('faulty', 'throw')
  const { error } = await fatal
  t.match(await intensity, { supervisor: 'root', maxRestarts: 2, maxSeconds: 30 })
  t.match(error, { code: 'ERR_RESTART_INTENSITY', message: /more than 2 restarts in 30 s.*init refused by FAULTY_FAIL_INIT/ })
  t.same(restarts, [], 'no restart ever succeeded')
  t.equal(rt.state, 'failed')
  t.same(rt.whichChildren().map((c) => c.status), ['stopped', 'stopped'])
  await t.rejects(rt.call('sibling', 'count'), { code: 'ERR_RUNTIME_CLOSED', message: 'the runtime is failed' })
})
