/**
 * Entry point of the demo's clients process: `fork()`ed by `DemoClients` (lib/demo/clients.ts),
 * it runs a ClientPool and answers over IPC. The protocol is written out in lib/demo/protocol.ts.
 *
 * An uncaught exception or unhandled rejection is reported as `crash` and the process exits 1.
 * If the parent goes away (the IPC channel closes), the clients disconnect and the process exits.
 */
import { ClientPool, emptySummary } from '../lib/demo/client-pool.js'
import type { ClientsConfig, FromClients, ToClients } from '../lib/demo/protocol.js'
import { ProtocolError, toWire } from '../lib/errors.js'

if (typeof process.send !== 'function') throw new Error('workers/demo-clients.js must run in a forked child process (it talks over IPC)')

let pool: ClientPool | null = null
let progressTimer: NodeJS.Timeout | undefined
let stopping = false

/** Sends a message; resolves once it is handed to the IPC channel (or the channel is gone). */
function send (message: FromClients): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve()
      return
    }
    process.send(message, undefined, {}, () => resolve())
  })
}

function crash (origin: 'uncaughtException' | 'unhandledRejection', err: unknown): void {
  void send({ type: 'crash', error: toWire(err), origin }).finally(() => process.exit(1))
}
// A terminal's Ctrl-C signals the whole process group, this process too; the parent decides when
// the clients stop (after draining: it sends `stop`), and if it dies the IPC channel closes.
process.on('SIGINT', () => {})
process.on('uncaughtException', (err) => crash('uncaughtException', err))
process.on('unhandledRejection', (reason) => crash('unhandledRejection', reason))

process.on('message', (message: ToClients) => {
  switch (message.type) {
    case 'start':
      start(message.config)
      return
    case 'report': {
      if (pool === null) throw new ProtocolError('report before start')
      const p = pool
      const { ref } = message
      void p.whenDelivered(message.atLeast, message.waitMs).then(() => send({ type: 'summary', ref, final: false, summary: p.summary() }))
      return
    }
    case 'stop':
      void stop()
      return
    default: {
      const unknown: never = message
      throw new ProtocolError(`unknown message type ${JSON.stringify((unknown as { type?: unknown }).type)}`)
    }
  }
})

// The parent is gone: nobody to report to. Its endpoint is most likely gone too, and the official
// client polls for up to ~1.5 s for a socket to close, so the sockets get 500 ms, then the process ends.
process.on('disconnect', () => {
  if (stopping) return
  stopping = true
  clearInterval(progressTimer)
  setTimeout(() => process.exit(0), 500)
  void pool?.close().then(() => process.exit(0))
})

function start (config: ClientsConfig): void {
  if (pool !== null) throw new ProtocolError('start received twice')
  const p = new ClientPool(config)
  pool = p
  p.start().then((ready) => {
    if (stopping) return
    void send({ type: 'ready', ready })
    if (config.progressMs > 0) {
      progressTimer = setInterval(() => { void send({ type: 'progress', progress: p.progress() }) }, config.progressMs)
    }
  }, (err: unknown) => {
    if (stopping) return
    void send({ type: 'failed', error: toWire(err) }).finally(() => process.exit(1))
  })
}

async function stop (): Promise<void> {
  if (stopping) return
  stopping = true
  clearInterval(progressTimer)
  let summary = emptySummary()
  if (pool !== null) {
    const closed = pool.close()
    summary = pool.summary() // counting stopped as close() began
    await closed
  }
  await send({ type: 'summary', ref: null, final: true, summary })
  process.exit(0)
}
