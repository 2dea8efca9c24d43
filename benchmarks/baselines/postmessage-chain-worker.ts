// Baseline: the plain way to chain three threads in Node. Batches of
// events go A → B → C by postMessage (structured clone), B adds a field to
// each event, and C acknowledges each batch back to A (through B) so that
// A keeps at most `window` batches in flight and no queue grows. C counts
// into shared memory, which the parent reads.
import { parentPort, workerData } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'

interface Boot { role: 'a' | 'b' | 'c', batch: number, window: number, up?: MessagePort, down?: MessagePort, count?: SharedArrayBuffer }

const boot = workerData as Boot
const PAD = 'x'.repeat(100)

switch (boot.role) {
  case 'a': {
    const down = boot.down as MessagePort
    let n = 0
    let inFlight = 0
    const pump = (): void => {
      while (inFlight < boot.window) {
        const ts = performance.timeOrigin + performance.now()
        const events = new Array(boot.batch)
        for (let i = 0; i < boot.batch; i++) events[i] = { id: ++n, ts, payload: { n, s: PAD } }
        down.postMessage(events)
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
    const count = new Float64Array(boot.count as SharedArrayBuffer)
    up.on('message', (events: unknown[]) => {
      count[0] = (count[0] as number) + events.length
      up.postMessage(0)
    })
    break
  }
}
parentPort?.postMessage('ready')
