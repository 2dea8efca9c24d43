// Connect tokens: a valid token round-trips its data; tampered, re-spelled, wrong-secret,
// expired, not-yet-valid and malformed tokens are refused with their codes; a short secret and
// bad options are refused before anything else. Time is passed in, never waited for.
import { createHmac } from 'node:crypto'
import t from 'tap'
import {
  DEFAULT_CLOCK_SKEW_SECONDS, TOKEN_MAX_LENGTH, TOKEN_SECRET_MIN_BYTES, signToken, verifyToken,
} from '../../lib/channels/token.js'
import { InvalidArgumentError, TokenError, fromWire, toWire } from '../../lib/errors.js'
import type { StagewireError } from '../../lib/errors.js'

const SECRET = 'k'.repeat(32)
const OTHER = 'o'.repeat(32)
const T0 = Date.parse('2025-01-01T00:00:00.000Z')

/** Asserts `fn` throws an instance of `Class` with `code` and exactly `message` (or matching it). */
function refuses (t: Tap, fn: () => unknown, Class: new (...args: never[]) => StagewireError, code: string, message: string | RegExp): void {
  const err = t.throws(fn) as StagewireError
  t.type(err, Class)
  t.equal(err.code, code)
  if (typeof message === 'string') t.equal(err.message, message)
  else t.match(err.message, message)
}
// What `refuses` needs of a test: the root `t` and subtests both have it.
type Tap = Pick<typeof t, 'throws' | 'type' | 'equal' | 'match'>

/** A token signed with SECRET over arbitrary claims text: what only a holder of the secret could make. */
function signedClaims (claimsText: string): string {
  const claims = Buffer.from(claimsText).toString('base64url')
  const sig = createHmac('sha256', SECRET).update(`v1.${claims}`).digest('base64url')
  return `v1.${claims}.${sig}`
}

t.test('a valid token returns its data', async (t) => {
  const token = signToken({ userId: 42, roles: ['a'] }, SECRET, { maxAgeSeconds: 60, now: T0 })
  t.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'v1.<claims>.<signature>, base64url, URL-safe')
  t.strictSame(verifyToken(token, SECRET, { now: T0 }), { userId: 42, roles: ['a'] })
  t.strictSame(verifyToken<{ userId: number }>(token, SECRET, { now: T0 + 59_999 }).userId, 42, 'valid until the last ms')
  const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'))
  t.strictSame(claims, { iat: T0, exp: T0 + 60_000, data: { userId: 42, roles: ['a'] } }, 'claims are signed, not encrypted: readable by anyone')
})

t.test('data of every JSON kind; a secret given as bytes; the default clock', async (t) => {
  for (const data of ['user', 0, null, [1, 'two'], { nested: { deep: true } }, 'ü€😀']) {
    t.strictSame(verifyToken(signToken(data, SECRET, { maxAgeSeconds: 1, now: T0 }), SECRET, { now: T0 }), data)
  }
  t.equal(verifyToken(signToken(new Date(T0), SECRET, { maxAgeSeconds: 1, now: T0 }), SECRET, { now: T0 }), '2025-01-01T00:00:00.000Z', 'a Date comes back as JSON makes it')
  const bytes = Buffer.alloc(32, 7)
  t.equal(verifyToken(signToken('b', bytes, { maxAgeSeconds: 1, now: T0 }), new Uint8Array(bytes), { now: T0 }), 'b')
  t.equal(verifyToken(signToken('now', SECRET, { maxAgeSeconds: 60 }), SECRET), 'now', 'Date.now() on both sides by default')
})

t.test('tampered tokens are refused as ERR_TOKEN_INVALID', async (t) => {
  const token = signToken({ userId: 42 }, SECRET, { maxAgeSeconds: 60, now: T0 })
  const [, claims, sig] = token.split('.') as [string, string, string]
  const message = 'token signature does not match: it was tampered with or signed with another secret'

  // Another user's claims under the original signature.
  const forged = Buffer.from(JSON.stringify({ iat: T0, exp: T0 + 60_000, data: { userId: 1 } })).toString('base64url')
  refuses(t, () => verifyToken(`v1.${forged}.${sig}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', message)
  // A longer life under the original signature.
  const extended = Buffer.from(JSON.stringify({ iat: T0, exp: T0 + 9e12, data: { userId: 42 } })).toString('base64url')
  refuses(t, () => verifyToken(`v1.${extended}.${sig}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', message)
  // One character of the signature changed.
  const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11)
  refuses(t, () => verifyToken(`v1.${claims}.${flipped}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', message)
  // A truncated and an over-long signature.
  refuses(t, () => verifyToken(`v1.${claims}.${sig.slice(0, 42)}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', message)
  refuses(t, () => verifyToken(`v1.${claims}.${sig}A`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', message)
})

t.test('another spelling of the same signature bytes is refused: the text is compared, not the decoded bytes', async (t) => {
  const token = signToken('x', SECRET, { maxAgeSeconds: 60, now: T0 })
  const [, claims, sig] = token.split('.') as [string, string, string]
  // 43 base64url characters carry 258 bits for 256: the last character's two low bits are unused.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(sig[42] as string)
  const respelled = sig.slice(0, 42) + (alphabet[last ^ 1] as string)
  t.strictSame(Buffer.from(respelled, 'base64url'), Buffer.from(sig, 'base64url'), 'the same 32 bytes')
  refuses(t, () => verifyToken(`v1.${claims}.${respelled}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', /^token signature does not match/)
})

t.test('a token signed with another secret is refused as ERR_TOKEN_INVALID', async (t) => {
  const token = signToken({ userId: 42 }, OTHER, { maxAgeSeconds: 60, now: T0 })
  refuses(t, () => verifyToken(token, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID',
    'token signature does not match: it was tampered with or signed with another secret')
})

t.test('expiry: refused from the expiry ms on, as ERR_TOKEN_EXPIRED', async (t) => {
  const token = signToken({ userId: 42 }, SECRET, { maxAgeSeconds: 60, now: T0 })
  refuses(t, () => verifyToken(token, SECRET, { now: T0 + 60_000 }), TokenError, 'ERR_TOKEN_EXPIRED',
    'token expired at 2025-01-01T00:01:00.000Z, 0 s ago')
  refuses(t, () => verifyToken(token, SECRET, { now: T0 + 3_600_000 }), TokenError, 'ERR_TOKEN_EXPIRED',
    'token expired at 2025-01-01T00:01:00.000Z, 3540 s ago')
  const short = signToken('x', SECRET, { maxAgeSeconds: 0.5, now: T0 })
  t.equal(verifyToken(short, SECRET, { now: T0 + 499 }), 'x', 'fractional seconds count in ms')
  refuses(t, () => verifyToken(short, SECRET, { now: T0 + 500 }), TokenError, 'ERR_TOKEN_EXPIRED', /^token expired at 2025-01-01T00:00:00.500Z/)
})

t.test('issued in the future beyond the clock skew: ERR_TOKEN_NOT_YET_VALID', async (t) => {
  t.equal(DEFAULT_CLOCK_SKEW_SECONDS, 30)
  const ahead = signToken('x', SECRET, { maxAgeSeconds: 600, now: T0 + 30_000 })
  t.equal(verifyToken(ahead, SECRET, { now: T0 }), 'x', '30 s ahead is within the default skew')
  const tooFar = signToken('x', SECRET, { maxAgeSeconds: 600, now: T0 + 30_001 })
  refuses(t, () => verifyToken(tooFar, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_NOT_YET_VALID',
    'token is not valid yet: issued at 2025-01-01T00:00:30.001Z, later than now (2025-01-01T00:00:00.000Z) plus the clock skew of 30 s')
  const oneMs = signToken('x', SECRET, { maxAgeSeconds: 600, now: T0 + 1 })
  refuses(t, () => verifyToken(oneMs, SECRET, { now: T0, clockSkewSeconds: 0 }), TokenError, 'ERR_TOKEN_NOT_YET_VALID', /clock skew of 0 s$/)
  t.equal(verifyToken(oneMs, SECRET, { now: T0 + 1, clockSkewSeconds: 0 }), 'x')
})

t.test('malformed tokens: ERR_TOKEN_MALFORMED, naming what is wrong', async (t) => {
  const good = signToken('x', SECRET, { maxAgeSeconds: 60, now: T0 })
  const [, claims, sig] = good.split('.') as [string, string, string]
  const cases: Array<[string, unknown, string]> = [
    ['a number', 42, 'token must be a string, got number'],
    ['undefined', undefined, 'token must be a string, got undefined'],
    ['null', null, 'token must be a string, got null'],
    ['empty', '', 'token must have the form v1.<claims>.<signature>, got 1 dot-separated part(s)'],
    ['no dots', 'abcdef', 'token must have the form v1.<claims>.<signature>, got 1 dot-separated part(s)'],
    ['two parts', `${claims}.${sig}`, 'token must have the form v1.<claims>.<signature>, got 2 dot-separated part(s)'],
    ['four parts', `${good}.x`, 'token must have the form v1.<claims>.<signature>, got 4 dot-separated part(s)'],
    ['another version', `v2.${claims}.${sig}`, 'token version must be "v1", got "v2"'],
    ['empty claims', `v1..${sig}`, 'token claims and signature must be non-empty base64url'],
    ['empty signature', `v1.${claims}.`, 'token claims and signature must be non-empty base64url'],
    ['standard base64, not base64url', `v1.${claims}+/.${sig}`, 'token claims and signature must be non-empty base64url'],
    ['padding', `v1.${claims}=.${sig}`, 'token claims and signature must be non-empty base64url'],
    ['too long', `v1.${'a'.repeat(TOKEN_MAX_LENGTH)}.${sig}`, `token must be at most ${TOKEN_MAX_LENGTH} characters, got ${TOKEN_MAX_LENGTH + 47}`],
  ]
  for (const [name, token, message] of cases) {
    t.test(name, async (t) => refuses(t, () => verifyToken(token as string, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_MALFORMED', message))
  }
})

t.test('correctly signed claims that are not ours: ERR_TOKEN_MALFORMED, after the signature check', async (t) => {
  refuses(t, () => verifyToken(signedClaims('not json'), SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_MALFORMED',
    'token claims are not JSON, though correctly signed (is the secret shared with another signer?)')
  const shape = 'token claims must be {iat, exp, data}, though correctly signed (is the secret shared with another signer?)'
  for (const claims of ['[1,2]', 'null', '{"iat":1,"exp":2}', '{"iat":"1","exp":2,"data":1}', '{"iat":1,"exp":null,"data":1}']) {
    refuses(t, () => verifyToken(signedClaims(claims), SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_MALFORMED', shape)
  }
  // The same claims under a wrong signature say nothing about their content.
  const [v, c] = signedClaims('not json').split('.') as [string, string]
  refuses(t, () => verifyToken(`${v}.${c}.${'A'.repeat(43)}`, SECRET, { now: T0 }), TokenError, 'ERR_TOKEN_INVALID', /^token signature does not match/)
})

t.test('a secret shorter than 32 bytes is refused, by sign and by verify, before the token is looked at', async (t) => {
  t.equal(TOKEN_SECRET_MIN_BYTES, 32)
  const message = (n: number): string => `secret must be at least 32 bytes, got ${n} (generate one with crypto.randomBytes(32))`
  const short = 's'.repeat(31)
  refuses(t, () => signToken('x', short, { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT', message(31))
  refuses(t, () => verifyToken('garbage', short), InvalidArgumentError, 'ERR_INVALID_ARGUMENT', message(31))
  refuses(t, () => signToken('x', '', { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT', message(0))
  refuses(t, () => signToken('x', Buffer.alloc(16), { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT', message(16))
  t.ok(signToken('x', 'é'.repeat(16), { maxAgeSeconds: 1 }), '16 characters of 2 bytes are 32 bytes: accepted')
  refuses(t, () => signToken('x', 'é'.repeat(15) + 'a', { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT', message(31))
  refuses(t, () => signToken('x', 12345 as unknown as string, { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'secret must be a string or a Uint8Array, got number')
  const err = t.throws(() => signToken('x', 'hunter2-is-my-password', { maxAgeSeconds: 1 })) as Error
  t.notMatch(err.message, 'hunter2', 'the secret is never quoted')
})

t.test('bad options and data are refused with ERR_INVALID_ARGUMENT', async (t) => {
  for (const maxAgeSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60' as unknown as number, undefined as unknown as number]) {
    refuses(t, () => signToken('x', SECRET, { maxAgeSeconds }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
      `options.maxAgeSeconds must be a positive number of seconds, got ${String(maxAgeSeconds)}`)
  }
  refuses(t, () => signToken('x', SECRET, undefined as unknown as { maxAgeSeconds: number }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'options.maxAgeSeconds must be a positive number of seconds, got undefined')
  refuses(t, () => signToken('x', SECRET, { maxAgeSeconds: 1, now: Number.NaN }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'options.now must be a finite number of ms since the epoch, got NaN')
  refuses(t, () => verifyToken('x', SECRET, { clockSkewSeconds: -1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'options.clockSkewSeconds must be a non-negative number of seconds, got -1')
  refuses(t, () => signToken(undefined, SECRET, { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'data must be serialisable to JSON, got undefined')
  refuses(t, () => signToken(() => 1, SECRET, { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'data must be serialisable to JSON, got function')
  refuses(t, () => signToken({ n: 1n }, SECRET, { maxAgeSeconds: 1 }), InvalidArgumentError, 'ERR_INVALID_ARGUMENT',
    'data must be serialisable to JSON: TypeError: Do not know how to serialize a BigInt')
})

t.test('token errors cross threads with their class and code', async (t) => {
  for (const code of ['ERR_TOKEN_MALFORMED', 'ERR_TOKEN_INVALID', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NOT_YET_VALID'] as const) {
    const back = fromWire(structuredClone(toWire(new TokenError(`m ${code}`, code))))
    t.type(back, TokenError)
    t.equal((back as TokenError).code, code)
    t.equal(back.message, `m ${code}`)
  }
})
