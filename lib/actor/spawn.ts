/**
 * Starts threads on entry points.
 *
 * In the built package an entry is plain JS (dist/workers/, dist/benchmarks/).
 * When the code runs from its TypeScript source (the test suite, benchmarks
 * run with tsx), the entry is a .ts file, and Node 20 does not carry tsx's
 * loader hooks into worker threads, so the thread registers tsx itself
 * before importing the entry. Nothing of this runs in the built package.
 * @internal
 */
import { Worker } from 'node:worker_threads'
import type { WorkerOptions } from 'node:worker_threads'

const fromSource = import.meta.url.endsWith('.ts')

/** Spawns `workers/<entry>.js` (or `.ts` from source) with the given options. */
export function spawnThread (entry: 'actor', options: WorkerOptions): Worker {
  return spawnModuleThread(new URL(`../../workers/${entry}.${fromSource ? 'ts' : 'js'}`, import.meta.url), options)
}

/** Spawns a thread running the module at `url` (.js, or .ts under tsx). */
export function spawnModuleThread (url: URL, options: WorkerOptions = {}): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options)
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  // execArgv [] keeps tsx's --import out of the thread (it registers tsx itself), but the CPU
  // profiler's flags must reach it, or `stagewire bench --profile` misses every thread from the sources.
  return new Worker(code, { ...options, eval: true, execArgv: process.execArgv.filter(isProfilerFlag) })
}

/** `--cpu-prof`, `--cpu-prof-dir=DIR`, ... (in one token each: the bench harness passes them so). */
function isProfilerFlag (arg: string): boolean {
  return arg === '--cpu-prof' || arg.startsWith('--cpu-prof-')
}
