/**
 * Signed, expiring connect tokens (the role of `Phoenix.Token`): the host app signs
 * `{userId: 42}` when it serves a page, the client passes the token as `params.token` when it
 * connects, and the endpoint verifies it before accepting the socket.
 *
 * ```
 *   v1 . base64url(JSON {"iat":<ms>,"exp":<ms>,"data":<data>}) . base64url(HMAC-SHA256(secret, "v1.<claims>"))
 *   ^version, signed too       ^claims                                   ^signature (43 chars)
 * ```
 *
 * The claims are signed, not encrypted: anyone holding the token can read `data`, so it must not
 * hold secrets. Verification checks the signature before it reads a single claim, compares in
 * constant time, and compares the signature's text (not its decoded bytes) so that no other
 * spelling of the same bytes is accepted.
 */
import { Buffer } from 'node:buffer'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidArgumentError, TokenError, describeThrown } from '../errors.js'

/** A signing secret: a string (its UTF-8 bytes are the key) or bytes. */
export type TokenSecret = string | Uint8Array

/** Fewer bytes than this is refused: HMAC-SHA256's key should be at least its output size. */
export const TOKEN_SECRET_MIN_BYTES = 32

/** Longest token accepted; it arrives in a query string, so it is bounded before any work is done. */
export const TOKEN_MAX_LENGTH = 4096

/** Clock skew tolerated by default when a token's issue time is later than the verifier's clock. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 30

/** Options of {@link signToken}. */
export interface SignTokenOptions {
  /** Seconds the token stays valid. Required: a token that never expires cannot be revoked. */
  maxAgeSeconds: number
  /** The issue time in ms since the epoch; `Date.now()` by default (tests set it). */
  now?: number
}

/** Options of {@link verifyToken}. */
export interface VerifyTokenOptions {
  /** The current time in ms since the epoch; `Date.now()` by default (tests set it). */
  now?: number
  /**
   * How far in the future a token's issue time may be before it is refused as not yet valid:
   * the signer's clock may run ahead of the verifier's. Default {@link DEFAULT_CLOCK_SKEW_SECONDS}.
   */
  clockSkewSeconds?: number
}

const VERSION = 'v1'
const SIGNED_PREFIX = `${VERSION}.`
const BASE64URL = /^[A-Za-z0-9_-]+$/
// base64url of a 32-byte HMAC-SHA256 without padding.
const SIGNATURE_CHARS = 43

/**
 * Signs `data` into a token valid for `maxAgeSeconds`.
 *
 * @param data anything JSON can carry; it comes back from {@link verifyToken} as JSON parses it
 *   (a `Date` comes back as a string).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the secret is shorter than 32 bytes or not
 *   a string or bytes; `options.maxAgeSeconds` is not a positive finite number; `options.now` is not
 *   a finite number; `data` cannot be serialised to JSON.
 */
export function signToken (data: unknown, secret: TokenSecret, options: SignTokenOptions): string {
  checkSecret(secret)
  const maxAge = options?.maxAgeSeconds
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) {
    throw new InvalidArgumentError(`options.maxAgeSeconds must be a positive number of seconds, got ${String(maxAge)}`)
  }
  const iat = clock(options.now)
  // JSON.stringify drops an undefined, function or symbol `data` silently: the token would verify to undefined.
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
    throw new InvalidArgumentError(`data must be serialisable to JSON, got ${typeof data}`)
  }
  let json: string
  try {
    json = JSON.stringify({ iat, exp: iat + Math.round(maxAge * 1000), data })
  } catch (err) {
    throw new InvalidArgumentError(`data must be serialisable to JSON: ${describeThrown(err)}`)
  }
  const claims = Buffer.from(json, 'utf8').toString('base64url')
  return `${SIGNED_PREFIX}${claims}.${sign(secret, claims)}`
}

/**
 * Verifies a token made by {@link signToken} with the same secret and returns its data.
 * `T` is the caller's claim about the data's shape: the signature proves who made it, not its type.
 *
 * @throws {TokenError} `ERR_TOKEN_MALFORMED` not a string, longer than {@link TOKEN_MAX_LENGTH},
 *   not `v1.<claims>.<signature>` in base64url, or signed claims that are not ours;
 *   `ERR_TOKEN_INVALID` the signature does not match (tampered, or signed with another secret);
 *   `ERR_TOKEN_EXPIRED` the token's expiry has passed;
 *   `ERR_TOKEN_NOT_YET_VALID` it was issued later than now plus the clock skew.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the secret is shorter than 32 bytes (checked
 *   first, so a misconfiguration is not mistaken for a bad token), or an option is not a finite number.
 */
export function verifyToken<T = unknown> (token: string, secret: TokenSecret, options: VerifyTokenOptions = {}): T {
  checkSecret(secret)
  const now = clock(options.now)
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0) {
    throw new InvalidArgumentError(`options.clockSkewSeconds must be a non-negative number of seconds, got ${String(skew)}`)
  }

  if (typeof token !== 'string') throw new TokenError(`token must be a string, got ${token === null ? 'null' : typeof token}`, 'ERR_TOKEN_MALFORMED')
  if (token.length > TOKEN_MAX_LENGTH) {
    throw new TokenError(`token must be at most ${TOKEN_MAX_LENGTH} characters, got ${token.length}`, 'ERR_TOKEN_MALFORMED')
  }
  const parts = token.split('.')
  if (parts.length !== 3) {
    throw new TokenError(`token must have the form ${VERSION}.<claims>.<signature>, got ${parts.length} dot-separated part(s)`, 'ERR_TOKEN_MALFORMED')
  }
  const [version, claims, signature] = parts as [string, string, string]
  if (version !== VERSION) {
    throw new TokenError(`token version must be "${VERSION}", got "${version.slice(0, 16)}"`, 'ERR_TOKEN_MALFORMED')
  }
  if (!BASE64URL.test(claims) || !BASE64URL.test(signature)) {
    throw new TokenError('token claims and signature must be non-empty base64url', 'ERR_TOKEN_MALFORMED')
  }

  // The expected signature's length is public (always 43), so checking it first leaks nothing and
  // keeps timingSafeEqual, which throws on unequal lengths, to equal-length inputs.
  const expected = sign(secret, claims)
  if (signature.length !== SIGNATURE_CHARS ||
      !timingSafeEqual(Buffer.from(signature, 'latin1'), Buffer.from(expected, 'latin1'))) {
    throw new TokenError('token signature does not match: it was tampered with or signed with another secret', 'ERR_TOKEN_INVALID')
  }

  // Signed by this secret from here on; a shape other than ours means the secret is shared with
  // something else that signs other things, which is worth an error of its own.
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'))
  } catch {
    throw new TokenError('token claims are not JSON, though correctly signed (is the secret shared with another signer?)', 'ERR_TOKEN_MALFORMED')
  }
  if (typeof parsed !== 'object' || parsed === null || !('data' in parsed) ||
      !('iat' in parsed) || typeof parsed.iat !== 'number' || !('exp' in parsed) || typeof parsed.exp !== 'number') {
    throw new TokenError('token claims must be {iat, exp, data}, though correctly signed (is the secret shared with another signer?)', 'ERR_TOKEN_MALFORMED')
  }
  if (parsed.iat > now + skew * 1000) {
    throw new TokenError(
      `token is not valid yet: issued at ${iso(parsed.iat)}, later than now (${iso(now)}) plus the clock skew of ${skew} s`,
      'ERR_TOKEN_NOT_YET_VALID')
  }
  if (now >= parsed.exp) {
    throw new TokenError(`token expired at ${iso(parsed.exp)}, ${Math.ceil((now - parsed.exp) / 1000)} s ago`, 'ERR_TOKEN_EXPIRED')
  }
  return parsed.data as T
}

/** Refuses a secret that is not a string or bytes, or is shorter than 32 bytes. The secret is never quoted. */
function checkSecret (secret: unknown): void {
  let size: number
  if (typeof secret === 'string') size = Buffer.byteLength(secret, 'utf8')
  else if (secret instanceof Uint8Array) size = secret.length
  else throw new InvalidArgumentError(`secret must be a string or a Uint8Array, got ${secret === null ? 'null' : typeof secret}`)
  if (size < TOKEN_SECRET_MIN_BYTES) {
    throw new InvalidArgumentError(
      `secret must be at least ${TOKEN_SECRET_MIN_BYTES} bytes, got ${size} (generate one with crypto.randomBytes(32))`)
  }
}

function sign (secret: TokenSecret, claims: string): string {
  return createHmac('sha256', secret).update(SIGNED_PREFIX).update(claims).digest('base64url')
}

function clock (now: number | undefined): number {
  if (now === undefined) return Date.now()
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new InvalidArgumentError(`options.now must be a finite number of ms since the epoch, got ${String(now)}`)
  }
  return now
}

function iso (ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString()
}
