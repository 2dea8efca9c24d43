// The main thread's wiring, through real worker threads: subscriptions of
// stages added and removed at run time.
import t from 'tap'
import { start } from '../../lib/index.js'
import { fixture } from '../helpers.js'

const stage = (name: string): string => fixture(`stages/${name}`)

interface Ledger { payloads: unknown[] }

t.test('a consumer stopped and started again under the same id subscribes once', async (t) => {
  const rt = await start({ children: [
    { id: 'source', stage: 'producer', module: stage('queue.ts'), dispatcher: 'broadcast' },
    { id: 'sinks', type: 'dynamic_supervisor' },
  ] })
  t.teardown(() => rt.close())
  const sink = { id: 'sink', stage: 'consumer', module: stage('ledger.ts'), subscribeTo: ['source'] }
  await rt.startChild('sinks', sink)
  await rt.terminateChild('sinks', 'sink')
  await rt.startChild('sinks', sink)
  t.strictSame(rt.stages().filter((s) => s.id === 'sink').map((s) => s.subscribedTo), [[{ producer: 'source', linked: true }]],
    'one subscription, linked')
  for (let i = 1; i <= 5; i++) rt.push('source', i)
  rt.push('source', 'end')
  await rt.call('sink', { untilPayload: 'end' })
  // A second pass, so that copies sent on a second subscription have had the time to arrive.
  rt.push('source', 'again')
  const ledger = await rt.call('sink', { untilPayload: 'again' }) as Ledger
  t.strictSame(ledger.payloads, [1, 2, 3, 4, 5, 'end', 'again'], 'each event once (a second subscription to a broadcast doubles them)')
})
