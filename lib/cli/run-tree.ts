/**
 * Runs a supervision tree in the foreground: a live status line on stderr
 * (rewritten in place on a terminal), one line per telemetry event, a
 * graceful close on Ctrl-C / SIGTERM or after `--duration`, and an optional
 * JSON summary on stdout.
 */
import { describeThrown, start } from '../index.js'
import type { ChildInfo, ExitReason, Runtime } from '../index.js'

export interface RunOptions {
  duration: number | undefined
  json: boolean
  banner?: string
}

/** Returns the process exit code: 0 after a clean stop, 1 when the tree failed or could not start. */
export async function runTree (specPath: string, options: RunOptions): Promise<number> {
  const err = process.stderr
  const tty = err.isTTY === true
  if (options.banner !== undefined) err.write(`${options.banner}\n\n`)
  let runtime: Runtime
  try {
    runtime = await start(specPath)
  } catch (e) {
    err.write(`stagewire: ${specPath}: ${describeThrown(e)}\n`)
    return 1
  }
  const startedAt = Date.now()
  let restarts = 0
  let fatal: Error | undefined
  let liveShown = false
  const log = (line: string): void => {
    if (tty && liveShown) err.write('\r\x1b[2K')
    err.write(`${line}\n`)
    liveShown = false
  }
  runtime.on('child:restarted', (e) => { restarts++; log(`restarted ${e.supervisor}/${e.id} (#${e.restarts}) after ${reasonText(e.reason)}`) })
  runtime.on('supervisor:intensity', (e) => log(`supervisor ${e.supervisor} gave up: more than ${e.maxRestarts} restarts in ${e.maxSeconds} s`))
  runtime.on('fatal', (e) => { fatal = e.error; log(`fatal: ${e.error.message}`) })

  const live = setInterval(() => {
    const line = `${((Date.now() - startedAt) / 1000).toFixed(0)}s  ${summarise(runtime.whichChildren())}  restarts ${restarts}`
    if (tty) { err.write(`\r\x1b[2K${line}`); liveShown = true } else log(line)
  }, tty ? 250 : 5000)

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    runtime.once('fatal', stop)
    if (options.duration !== undefined) setTimeout(stop, options.duration * 1000).unref()
  })
  clearInterval(live)
  if (tty && liveShown) err.write('\n')
  log('stopping...')
  const children = runtime.whichChildren()
  await runtime.close()
  log(`stopped after ${((Date.now() - startedAt) / 1000).toFixed(1)} s, ${restarts} restarts`)
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ seconds: (Date.now() - startedAt) / 1000, restarts, fatal: fatal?.message ?? null, children: flatten(children) })}\n`)
  }
  return fatal === undefined ? 0 : 1
}

function reasonText (reason: ExitReason): string {
  return reason.kind === 'error' ? describeThrown(reason.error) : reason.kind
}

function summarise (children: ChildInfo[]): string {
  return flatten(children).map((c) => `${c.id}:${c.status === 'running' ? 'up' : c.status}${c.restarts > 0 ? `(${c.restarts})` : ''}`).join(' ')
}

function flatten (children: ChildInfo[]): Array<{ id: string, type: string, status: string, restarts: number }> {
  const out: Array<{ id: string, type: string, status: string, restarts: number }> = []
  for (const c of children) {
    out.push({ id: c.id, type: c.type, status: c.status, restarts: c.restarts })
    if (c.children !== undefined) out.push(...flatten(c.children))
  }
  return out
}
