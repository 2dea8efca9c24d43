/**
 * Baseline of `stagewire bench pipeline` (lib/bench/pipeline.ts): the plain way to chain three
 * threads in Node. Batches of events go A → B → C by postMessage (structured clone), B adds a field
 * to each event, and C acknowledges each batch back to A (through B) so that A keeps at most
 * `window` batches in flight and no queue grows. Shared memory (Float64Array): [0] events counted
 * at C, [1] events made by A, [2] set to 1 by the parent to make A stop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'

interface Boot { role: 'a' | 'b' | 'c', batch: number, window: number, up?: MessagePort, down?: MessagePort, shared: SharedArrayBuffer }

const boot = workerData as Boot
const PAD = 'x'.repeat(100)
const shared = new Float64Array(boot.shared)

switch (boot.role) {
  case 'a': {
    const down = boot.down as MessagePort
    let n = 0
    let inFlight = 0
    const pump = (): void => {
      while (inFlight < boot.window && shared[2] === 0) {
        const ts = performance.timeOrigin + performance.now()
        const events = new Array(boot.batch)
        for (let i = 0; i < boot.batch; i++) events[i] = { id: ++n, ts, payload: { n, s: PAD } }
        down.postMessage(events)
        shared[1] = n
        inFlight++
      }
    }
    down.on('message', () => { inFlight--; pump() })
    pump()
    break
  }
  case 'b': {
    const up = boot.up as MessagePort
    const down = boot.down as MessagePort
    up.on('message', (events: Array<{ payload: { tag?: number } }>) => {
      for (let i = 0; i < events.length; i++) (events[i] as { payload: { tag?: number } }).payload.tag = 1
      down.postMessage(events)
    })
    down.on('message', () => up.postMessage(0))
    break
  }
  case 'c': {
    const up = boot.up as MessagePort
    up.on('message', (events: unknown[]) => {
      shared[0] = (shared[0] as number) + events.length
      up.postMessage(0)
    })
    break
  }
  default:
    throw new Error(`bench-postmessage-chain: unknown role ${JSON.stringify(boot.role as unknown)}`)
}
parentPort?.postMessage('ready')
