/** Where the package is installed: the folder holding its package.json and examples/. */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Walks up from this file to the first folder with a package.json (works from lib/ and from dist/lib/). */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('stagewire: cannot find the package root')
    dir = parent
  }
  return dir
}
