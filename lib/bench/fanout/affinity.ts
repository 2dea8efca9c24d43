/**
 * Where the processes of a run go: the server on core 0, the client swarm on core 1, with
 * `taskset`, when the machine has two cores or more and `taskset` exists; and whether this machine
 * lets a process hold the sockets a run needs.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/** Core of the server process. */
export const SERVER_CORE = 0
/** Core of the client-swarm process. */
export const SWARM_CORE = 1

/** Whether processes can be pinned, and if not, why. */
export interface Placement {
  pin: boolean
  note: string
}

/** Decides the placement once, in the parent process. */
export function placement (): Placement {
  const cores = availableParallelism()
  if (cores < 2) return { pin: false, note: `not pinned: ${cores} core (server and clients share it)` }
  const probe = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  if (probe.error !== undefined || probe.status !== 0) return { pin: false, note: 'not pinned: taskset not found (server and clients share the cores)' }
  return { pin: true, note: `server pinned to core ${SERVER_CORE}, clients to core ${SWARM_CORE} (taskset), ${cores} cores` }
}

/** Pins this process, every thread of it (`-a`: V8's and libuv's too), to `core`. */
export function pinSelf (core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' })
}

/** The command that starts `argv` pinned to `core`, or as is when `core` is null. */
export function pinned (core: number | null, argv: string[]): [string, string[]] {
  if (core === null) return [argv[0] as string, argv.slice(1)]
  return ['taskset', ['-c', String(core), ...argv]]
}

/**
 * The open-file limit a process started from here gets. Node raises its soft limit to the hard one
 * at start-up, so the hard limit is what counts; `ulimit -n` in a child shell cannot go past it either.
 */
export function openFileLimit (): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const hard = line?.trim().split(/\s+/)[4]
    if (hard !== undefined) return hard === 'unlimited' ? Infinity : Number(hard)
  } catch {
    // Not Linux: ask the shell.
  }
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()
  return out === 'unlimited' ? Infinity : Number(out)
}

/** File descriptors a process needs besides its sockets (stdio, IPC, the listening socket, V8, epoll...). */
export const SPARE_FDS = 100
