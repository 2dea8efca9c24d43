// Shared by the demo tests: where the real recordings are, temporary files, and an endpoint with
// the `feed:*` fixture channel.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { Endpoint, signToken } from '../../lib/index.js'
import feedChannel from '../fixtures/demo/feed-channel.js'

/** What a tap test offers that these helpers need. */
export interface Teardown { teardown(fn: () => unknown): void }

const PROJECT = fileURLToPath(new URL('../../', import.meta.url))

/** The three recordings, with the routing key each is replayed by. */
export const RECORDINGS = {
  github: { path: 'github-events/github_events_2015H1_devops.ndjson.gz', key: 'repo_name' },
  wikipedia: { path: 'wikipedia-edits/wikiticker-2015-09-12-scrubbed.json.gz', key: 'channel' },
  coinbase: { path: 'coinbase-ws/coinbase_ws_2021-04-17_10products.log', key: 'product_id' },
} as const

/**
 * A recording's path, and whether its test is skipped: the data is read from STAGEWIRE_DATA, else
 * ../shared/data next to the project. Missing data skips the test, unless CI is set: then the test
 * runs and fails on its first assertion (`existsSync(file)`).
 */
export function recording (name: keyof typeof RECORDINGS): { file: string, key: string, skip: string | false } {
  const dir = process.env.STAGEWIRE_DATA ?? resolve(PROJECT, '../shared/data')
  const file = join(dir, RECORDINGS[name].path)
  const missing = !existsSync(file)
  const skip = missing && (process.env.CI === undefined || process.env.CI === '') ? `${file} is absent (set STAGEWIRE_DATA to the recordings' folder)` : false
  return { file, key: RECORDINGS[name].key, skip }
}

/** Writes `content` to a new temporary file (gzipped when asked), removed at teardown. */
export function tempFile (t: Teardown, name: string, content: string | Uint8Array, gzip = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'stagewire-demo-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, name)
  writeFileSync(file, gzip ? gzipSync(content) : content)
  return file
}

export const SECRET = 'demo-test-secret-of-at-least-32-bytes'

/** A connect token for client `i`. */
export function tokenFor (i: number): string {
  return signToken({ client: i }, SECRET, { maxAgeSeconds: 600 })
}

/** An endpoint with `feed:*` on a free port, closed at teardown. */
export async function startFeedEndpoint (t: Teardown): Promise<{ endpoint: Endpoint, port: number, url: string }> {
  const endpoint = new Endpoint({ port: 0, secret: SECRET, channels: [['feed:*', feedChannel]] })
  const { port } = await endpoint.listen()
  t.teardown(() => endpoint.close({ timeoutMs: 2000 }))
  return { endpoint, port, url: `ws://127.0.0.1:${port}/socket` }
}

/** The wire payload the demo server broadcasts. */
export function payload (id: number | string, key: string, data: unknown = {}): { id: number | string, ts: number, key: string, data: unknown } {
  return { id, ts: performance.timeOrigin + performance.now(), key, data }
}
