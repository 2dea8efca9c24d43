/**
 * Modules a spec can name as `builtin:<name>` instead of a path.
 * @internal
 */

const BUILTINS = ['queue', 'broadcaster'] as const

/** The built-in module names. */
export type BuiltinName = typeof BUILTINS[number]

/** The URL of built-in `name`, or undefined when there is none by that name. */
export function builtinModule (name: string): string | undefined {
  if (!(BUILTINS as readonly string[]).includes(name)) return undefined
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js'
  return new URL(`./${name}.${ext}`, import.meta.url).href
}

/** Every built-in name, for error messages. */
export const BUILTIN_NAMES: readonly string[] = BUILTINS
