/**
 * The folder `--profile DIR` writes to, created (or checked) before any run, so that a bad path is
 * a bad flag rather than a failure after the first round.
 *
 * Node's `mkdirSync(dir, { recursive: true })` is not used: where the parent exists but refuses a
 * new folder with ENOENT (anything under /proc), it retries the parent and the child forever at
 * full CPU. Here the missing folders are found by walking up with `stat`, then created one level
 * at a time, each `mkdir` tried once.
 * @internal
 */
import { accessSync, constants, mkdirSync, rmdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** Why the folder cannot be used, on one line (the caller names the folder asked for). */
export class ProfileDirError extends Error {}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
}

function reason (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code !== undefined && REASONS[code] !== undefined) return `${REASONS[code]} (${code})`
  return code ?? (err as Error).message
}

/**
 * Makes `dir` a writable folder: creates it and the parents it lacks. Returns the folders it
 * created, outermost first (for {@link removeCreated}).
 * @throws ProfileDirError when it cannot be
 */
export function makeProfileDir (dir: string): string[] {
  const target = resolve(dir)
  const missing: string[] = []
  let at = target
  for (;;) {
    let isDir: boolean
    try {
      isDir = statSync(at).isDirectory()
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // ENOTDIR: a part of the path is a file; walk up to find which one.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new ProfileDirError(`${at}: ${reason(err)}`)
      const parent = dirname(at)
      if (parent === at) throw new ProfileDirError(`${at} does not exist`)
      missing.unshift(at)
      at = parent
      continue
    }
    if (!isDir) throw new ProfileDirError(`${at} is not a folder`)
    break
  }
  try {
    accessSync(at, constants.W_OK | constants.X_OK)
  } catch (err) {
    throw new ProfileDirError(`${at} is not writable: ${reason(err)}`)
  }
  const created: string[] = []
  for (const folder of missing) {
    try {
      mkdirSync(folder)
    } catch (err) {
      removeCreated(created)
      // ENOENT from mkdir when the parent exists: a file system that takes no new folders (/proc, /sys).
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${dirname(folder)} does not take new folders (mkdir: ENOENT)` : `mkdir: ${reason(err)}`
      throw new ProfileDirError(folder === target ? why : `cannot create ${folder}: ${why}`)
    }
    created.push(folder)
  }
  return created
}

/** Removes the folders {@link makeProfileDir} created, innermost first, where they are still empty. */
export function removeCreated (created: string[]): void {
  for (const folder of [...created].reverse()) {
    try {
      rmdirSync(folder)
    } catch {
      return // not empty (or gone): leave it and its parents
    }
  }
}
