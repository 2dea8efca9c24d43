/**
 * The broadcast payload, the same for every contender: `{"seq":N,"ts":T,"pad":"xxx..."}`, 200 bytes
 * of JSON, where `ts` is the server's clock ({@link now}) at the broadcast call. Each contender wraps
 * it in its own framing (a Phoenix V2 array, a socket.io event, nothing).
 *
 * The clients read only the sequence number, straight from the bytes (no JSON.parse, no string):
 * it is the first field, so `"seq":` appears once, near the start, in every framing.
 */
import { Buffer } from 'node:buffer'

/** What a broadcast carries. */
export interface BenchPayload {
  seq: number
  ts: number
  pad: string
}

/** Size of the payload's JSON for a 4-digit seq and a µs-resolution timestamp. */
export const PAYLOAD_BYTES = 200

const SKELETON = JSON.stringify({ seq: 1000, ts: 1_764_000_000_000.123, pad: '' }).length
const PAD = 'x'.repeat(PAYLOAD_BYTES - SKELETON)

/** Builds broadcast number `seq`, sent at `ts`. */
export function makePayload (seq: number, ts: number): BenchPayload {
  return { seq, ts: Math.round(ts * 1000) / 1000, pad: PAD }
}

const SEQ_KEY = Buffer.from('"seq":')
const ZERO = 48
const NINE = 57

/**
 * The sequence number in a received frame, or -1 when the frame carries none (a join reply, a
 * ping). Reads the digits after the first `"seq":` byte by byte.
 */
export function readSeq (data: Buffer): number {
  const at = data.indexOf(SEQ_KEY)
  if (at < 0) return -1
  let n = 0
  for (let i = at + SEQ_KEY.length; i < data.length; i++) {
    const c = data[i] as number
    if (c < ZERO || c > NINE) break
    n = n * 10 + c - ZERO
  }
  return n
}
