import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { start } from '../lib/index.js'
import { fixture } from './helpers.js'

t.test('after close() the process exits on its own: no thread, port or timer is left', async (t) => {
  const script = fixture('close-and-wait.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  clearTimeout(killer)
  t.equal(signal, null, `the process was not killed (output: ${out})`)
  t.equal(code, 0)
  t.match(out, 'closed 3 children')
})

t.test('close() is graceful: every child runs terminate; destroy() is immediate', async (t) => {
  const rt = await start({ children: [
    { id: 'a', module: fixture('counter.ts') },
    { id: 'slow', module: fixture('slow.ts'), args: { terminateMs: 60_000 }, shutdown: 300 },
  ] })
  const reasons: string[] = []
  rt.on('child:exited', (e) => reasons.push(`${e.id}:${e.reason.kind === 'error' ? (e.reason.error as Error & { code: string }).code : e.reason.kind}`))
  await rt.close()
  t.same(reasons, ['slow:ERR_SHUTDOWN_TIMEOUT', 'a:shutdown'])
  await t.rejects(rt.call('a', 'count'), { code: 'ERR_RUNTIME_CLOSED' })
  await t.rejects(rt.startChild('root', { id: 'x', module: fixture('counter.ts') }), { code: 'ERR_RUNTIME_CLOSED' })

  const rt2 = await start({ children: [{ id: 'slow', module: fixture('slow.ts'), args: { terminateMs: 60_000 } }] })
  const t0 = Date.now()
  await rt2.destroy()
  t.ok(Date.now() - t0 < 5000, 'destroy did not wait for terminate')
  t.equal(rt2.state, 'closed')
})

t.test('close() past its timeout terminates what is left', async (t) => {
  const rt = await start({ children: [{ id: 'slow', module: fixture('slow.ts'), args: { terminateMs: 60_000 }, shutdown: 'infinity' }] })
  await rt.close({ timeout: 300 })
  t.equal(rt.state, 'closed')
  t.same(rt.whichChildren().map((c) => c.status), ['stopped'])
})

t.test('bad arguments get clear errors', async (t) => {
  const rt = await start({ children: [{ id: 'a', module: fixture('counter.ts') }] })
  t.teardown(() => rt.close())
  await t.rejects(rt.call('a', 'count', { timeout: -1 }), { code: 'ERR_INVALID_ARGUMENT', message: 'options.timeout must be an integer from 1 to 2147483647 (ms), got -1' })
  await t.rejects(rt.call('ghost', 'count'), { code: 'ERR_ACTOR_NOT_FOUND', message: 'no actor named "ghost" is running' })
  t.throws(() => rt.whichChildren('ghost'), { code: 'ERR_ACTOR_NOT_FOUND' })
  await t.rejects(start({ children: [{ id: 'a', module: fixture('counter.ts'), restart: 'always' }] }), { code: 'ERR_SPEC_INVALID' })
  await t.rejects(start('/no/such/spec.json'), { code: 'ERR_SPEC_INVALID', message: /cannot read spec file/ })
})
