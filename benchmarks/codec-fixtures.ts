// Shared by benchmarks/codec.bench.ts and its chain worker: the events, and the messages between
// the bench and the chain's stages.
import type { MessagePort } from 'node:worker_threads'
import type { CodecName } from '../lib/stage/codec/codec.js'
import type { Envelope } from '../lib/stage/envelope.js'

export { CODECS, createCodec } from '../lib/stage/codec/create.js'

/** The events' payload: a number and a 100-char string, as ANCHORS.md's map events; the chain's middle stage adds `seen`. */
export interface BenchPayload { n: number, s: string, seen?: number }

/** A payload per index, each with its own flat 100-char string. */
export function makePayloads (count: number): BenchPayload[] {
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3)
  const out: BenchPayload[] = []
  // The Buffer round trip makes the string flat, as one parsed from a socket or JSON would be.
  for (let i = 0; i < count; i++) out.push({ n: i, s: Buffer.from((i.toString(36) + '-' + filler).slice(0, 100), 'latin1').toString('latin1') })
  return out
}

/** `count` envelopes with ids from `firstId`, fractional timestamps and the given payloads in turn. */
export function makeEvents (count: number, firstId: number, payloads: readonly BenchPayload[]): Envelope<BenchPayload>[] {
  const ts = Date.now()
  const out: Envelope<BenchPayload>[] = []
  for (let i = 0; i < count; i++) out.push({ id: firstId + i, ts: ts + i / 1024, payload: payloads[(firstId + i) % payloads.length] })
  return out
}

/** What the bench passes to a chain stage as workerData. */
export interface ChainBoot {
  role: 'producer' | 'middle' | 'consumer'
  codec: CodecName
  batch: number
  /** Batches the producer may have un-acked. */
  window: number
  /** Towards the producer (middle, consumer). */
  up?: MessagePort
  /** Towards the consumer (producer, middle). */
  down?: MessagePort
}

/** Bench → stage. */
export type ChainCommand = { type: 'start' } | { type: 'count' } | { type: 'stop' }
/** Stage → bench. */
export type ChainReport = { type: 'ready' } | { type: 'count', count: number } | { type: 'failed', message: string }
