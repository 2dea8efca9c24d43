/**
 * What the server process and its client-swarm process say to each other over their IPC channel,
 * and the clock both read.
 *
 * ```
 *   server process (core 0)                          swarm process (core 1)
 *     spawn ─────────────────────────────────────────► ready
 *     connect {dialect, url, clients} ───────────────► opens N sockets, joins each ─► joined {ms}
 *     clock {at} ────────────────────────────────────► clock {at, now}         (offset check)
 *     broadcast seq k to the N sockets ══ TCP ═══════► counts seq k per socket
 *                                       ◄──────────── done {seq: k}            (all N have it)
 *     report {from, to} ─────────────────────────────► report {counts, first, last, closed}
 *     usage ─────────────────────────────────────────► usage {cpuUs, at, received}
 *     close ─────────────────────────────────────────► terminates its sockets, exits
 * ```
 *
 * Times are `performance.timeOrigin + performance.now()` ({@link now}) on both sides: a wall-clock
 * origin taken at process start plus a monotonic clock, so two processes on one machine agree to
 * within microseconds (the `clock` exchange measures it and the run reports it).
 */

/** The wire protocol the clients speak: Phoenix Channels V2, engine.io v4 + socket.io, or bare text. */
export type Dialect = 'phoenix' | 'engine.io' | 'plain'

/** The Phoenix topic every stagewire client joins. */
export const PHOENIX_TOPIC = 'bench:all'

/** The socket.io room every socket.io client joins. */
export const SOCKET_IO_ROOM = 'bench'

/** Messages from the server process to the swarm. */
export type ToSwarm =
  | { kind: 'connect', dialect: Dialect, url: string, clients: number, concurrency: number }
  | { kind: 'clock', at: number }
  | { kind: 'report', from: number, to: number }
  | { kind: 'usage' }
  | { kind: 'close' }

/** Messages from the swarm to the server process. */
export type FromSwarm =
  | { kind: 'ready' }
  | { kind: 'joined', clients: number, ms: number }
  | { kind: 'done', seq: number }
  | { kind: 'clock', at: number, now: number }
  | { kind: 'report', from: number, counts: number[], first: number[], last: number[], closed: number }
  | { kind: 'usage', cpuUs: number, at: number, received: number }
  | { kind: 'failed', message: string }

/** Milliseconds on a clock that two processes on one machine share. */
export function now (): number {
  return performance.timeOrigin + performance.now()
}
