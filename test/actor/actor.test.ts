import t from 'tap'
import { pathToFileURL } from 'node:url'
import { Actor } from '../../lib/actor/actor.js'
import type { ActorOptions } from '../../lib/actor/actor.js'
import { ActorGoneError, ActorInitError, CallTimeoutError, NotImplementedError } from '../../lib/errors.js'
import { fixture } from '../helpers.js'

function options (module: string, extra: Partial<ActorOptions> = {}): ActorOptions {
  return {
    id: 'under-test',
    module: pathToFileURL(fixture(module)).href,
    heartbeatMs: 100,
    heartbeatTimeoutMs: 2000,
    statsMs: 50,
    startTimeoutMs: 10_000,
    ...extra,
  }
}

t.test('an actor runs its init, answers calls and reports stats', async (t) => {
  const actor = await Actor.start(options('counter.ts', { args: { start: 1000 } }))
  t.ok(actor.alive)
  t.ok(await actor.call('count', 1000) as number >= 1000, 'the state built by init is there')
  t.same(await actor.call({ hello: 1 }, 1000), { echo: { hello: 1 } })
  const stats = await new Promise((resolve) => actor.once('stats', resolve))
  t.match(stats, { calls: Number, heapUsed: Number, elu: Number, custom: { count: Number } })
  t.same(await actor.call({ $: 'ping' }, 1000), 'pong')
  t.same(await actor.stop(1000), { kind: 'shutdown' })
  t.notOk(actor.alive)
})

t.test("a handler's error goes back to the caller, and the actor carries on", async (t) => {
  const actor = await Actor.start(options('counter.ts'))
  await t.rejects(actor.call('throw', 1000), { message: 'asked to throw', code: 'E_APP' })
  t.type(await actor.call('count', 1000), 'number')
  await actor.stop(1000)
})

t.test('a call to a module without handleCall is refused with a code', async (t) => {
  const actor = await Actor.start(options('silent.ts'))
  const err = await actor.call('anything', 1000).catch((e: unknown) => e)
  t.type(err, NotImplementedError)
  t.equal((err as NotImplementedError).code, 'ERR_NOT_IMPLEMENTED')
  await actor.stop(1000)
})

t.test('a call times out with a clear error', async (t) => {
  const actor = await Actor.start(options('slow.ts'))
  const err = await actor.call('slow', 100).catch((e: unknown) => e)
  t.type(err, CallTimeoutError)
  t.match((err as Error).message, 'call to actor "under-test" got no reply within 100 ms')
  await actor.stop('brutal_kill')
})

t.test('calls pending when the actor goes away fail with ERR_ACTOR_GONE', async (t) => {
  const actor = await Actor.start(options('slow.ts'))
  const pending = actor.call('slow', 10_000)
  await actor.stop('brutal_kill')
  await t.rejects(pending, ActorGoneError)
  await t.rejects(actor.call('count', 1000), { code: 'ERR_ACTOR_GONE' })
})

t.test('a failing init rejects start with ERR_ACTOR_INIT and the cause', async (t) => {
  for (const failInit of ['throw', 'reject'] as const) {
    const err = await Actor.start(options('faulty.ts', { args: { failInit } })).catch((e: unknown) => e)
    t.type(err, ActorInitError)
    t.match((err as Error).message, failInit === 'throw' ? 'init refused' : 'init rejected')
    t.match((err as Error).cause, { message: failInit === 'throw' ? 'init refused' : 'init rejected' })
  }
  const exited = await Actor.start(options('faulty.ts', { args: { failInit: 'exit' } })).catch((e: unknown) => e)
  t.type(exited, ActorInitError)
  t.match((exited as Error).message, 'exited during init')
})

t.test('a module that cannot be imported fails its start', async (t) => {
  const err = await Actor.start(options('does-not-exist.ts')).catch((e: unknown) => e)
  t.type(err, ActorInitError)
  t.match((err as Error).message, /failed to start/)
})

t.test('an init that never finishes is cut off by startTimeoutMs', async (t) => {
  const err = await Actor.start(options('slow.ts', { args: { initMs: 60_000 }, startTimeoutMs: 300 })).catch((e: unknown) => e)
  t.type(err, ActorInitError)
  t.match((err as Error).message, 'did not finish init within 300 ms')
})

t.test('a terminate that overruns the shutdown timeout is cut off', async (t) => {
  const actor = await Actor.start(options('slow.ts', { args: { terminateMs: 60_000 } }))
  const reason = await actor.stop(200)
  t.equal(reason.kind, 'error')
  t.match(reason.kind === 'error' && reason.error, { code: 'ERR_SHUTDOWN_TIMEOUT' })
})
