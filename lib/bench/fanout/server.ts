/**
 * What every contender's server offers the measurement: a URL its clients connect to, in a given
 * dialect, and a broadcast call. One implementation per file in `servers/`, loaded only in the
 * process that runs it (so socket.io's modules are not in the heap stagewire is weighed with).
 */
import type { BenchPayload } from './payload.js'
import type { Dialect } from './protocol.js'

/** The contenders, in the order they alternate. */
export const CONTENDERS = ['stagewire', 'socket.io', 'plain-ws'] as const

/** A contender's name. */
export type ContenderName = typeof CONTENDERS[number]

/** A listening server of one contender. */
export interface FanoutServer {
  /** What its clients speak. */
  readonly dialect: Dialect
  /** Where its clients connect (with their token, for stagewire). */
  readonly url: string
  /** Sends `payload` to every joined client. The fan-out may go on after the call returns. */
  broadcast(payload: BenchPayload): void
  /** Counters of its own worth reporting (stagewire: frames, writes, drops); read between phases only. */
  counters(): Record<string, number>
  /** Closes every socket and the server. */
  close(): Promise<void>
}

/** Whether `name` is a contender. */
export function isContender (name: string): name is ContenderName {
  return (CONTENDERS as readonly string[]).includes(name)
}

/** Starts the server of contender `name` on a free port of 127.0.0.1. */
export async function startServer (name: ContenderName): Promise<FanoutServer> {
  switch (name) {
    case 'stagewire': return (await import('./servers/stagewire.js')).start()
    case 'socket.io': return (await import('./servers/socket-io.js')).start()
    case 'plain-ws': return (await import('./servers/plain-ws.js')).start()
    default: throw new Error(`unknown contender ${JSON.stringify(name as unknown)}`)
  }
}
