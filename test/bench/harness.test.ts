// How the harness reports a contender's failed run (lib/bench/harness.ts, workers/bench-child.ts):
// one line saying what failed; the child's stack kept as `detail` only for an unexpected error.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ContenderError, runChild } from '../../lib/bench/harness.js'

const CHILD = new URL('../../workers/bench-child.ts', import.meta.url).href
const ENDPOINT_TREE = fileURLToPath(new URL('./fixtures/endpoint-tree.json', import.meta.url))

async function failure (name: string, options: unknown, settings: Parameters<typeof runChild>[3]): Promise<ContenderError> {
  try {
    await runChild(CHILD, name, options, settings)
  } catch (err) {
    if (err instanceof ContenderError) return err
    throw err
  }
  throw new Error('the run did not fail')
}

t.test('a stagewire error: its message on one line, its code, no stack', async (t) => {
  const err = await failure('stagewire', { spec: ENDPOINT_TREE, rate: 1000, keys: 2, seconds: 0.1, warmup: 0 }, { args: ['--scenario', 'spec'], env: { STAGEWIRE_BENCH_TEST_SECRET: 'short' } })
  t.equal(err.message, 'contender stagewire failed: invalid spec: the secret in STAGEWIRE_BENCH_TEST_SECRET must be at least 32 bytes, got 5')
  t.equal(err.code, 'ERR_SPEC_INVALID')
  t.equal(err.known, true)
  t.equal(err.contender, 'stagewire')
  t.notMatch(err.detail, /\n\s+at /, 'the child printed no stack')
})

t.test('an unexpected error: its name and message on one line, the stack as detail', async (t) => {
  const err = await failure('nope', {}, { args: ['--scenario', 'push'] })
  t.equal(err.message, 'contender nope failed: Error: scenario push has no contender "nope"')
  t.equal(err.known, false)
  t.equal(err.code, undefined)
  t.match(err.detail, /\n\s+at .*bench-child\.ts/, 'the stack, for a bug report')
})

t.test('a run over its time limit says so', async (t) => {
  const err = await failure('array-push', { batch: 10, seconds: 60, warmup: 0, codec: 'shape' }, { args: ['--scenario', 'push'], timeoutMs: 1500 })
  t.equal(err.message, 'contender array-push was stopped after 1.5 s (time limit)')
  t.equal(err.known, false)
})
