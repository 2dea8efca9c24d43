// The call channel through a real worker thread: what becomes of a reply
// that the actor sent just before its thread ended.
import t from 'tap'
import { start } from '../../lib/index.js'
import { fixture } from '../helpers.js'

t.test('a reply sent just before the actor crashes reaches the caller, even if this thread was busy meanwhile', async (t) => {
  // faulty.ts replies 'ok' to 'throw', then throws on its next turn. While the main thread is busy,
  // the reply (on the call port) and the thread's exit both wait for it; the reply was sent first
  // and must not be turned into ERR_ACTOR_GONE (which says the actor went away before replying).
  const rt = await start({ children: [{ id: 'a', module: fixture('faulty.ts'), restart: 'temporary' }] })
  t.teardown(() => rt.close())
  const reply = rt.call('a', 'throw')
  const until = Date.now() + 300
  while (Date.now() < until) { /* keep this thread busy while the actor replies and dies */ }
  t.equal(await reply.catch((err: Error) => err.message), 'ok')
})
