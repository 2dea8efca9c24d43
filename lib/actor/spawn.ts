/**
 * Starts a thread on one of the entry points in workers/.
 *
 * In the built package the entry is plain JS in dist/workers/. When the
 * library itself runs from its TypeScript source (the test suite, under
 * tsx), the entry is a .ts file, and Node 20 does not carry tsx's loader
 * hooks into worker threads, so the thread registers tsx itself before
 * importing the entry. Nothing of this runs in the built package.
 * @internal
 */
import { Worker } from 'node:worker_threads'
import type { WorkerOptions } from 'node:worker_threads'

const fromSource = import.meta.url.endsWith('.ts')

/** Spawns `workers/<entry>.js` (or `.ts` from source) with the given options. */
export function spawnThread (entry: 'actor', options: WorkerOptions): Worker {
  if (!fromSource) return new Worker(new URL(`../../workers/${entry}.js`, import.meta.url), options)
  const target = new URL(`../../workers/${entry}.ts`, import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(target)}) })`
  return new Worker(code, { ...options, eval: true, execArgv: [] })
}
