/**
 * One event as a Redis Streams entry: a single field `e` holding MessagePack
 * `[ts, topic, event, payload]` (encoded once, by the writer). The entry's id, given by Redis at
 * XADD, becomes the envelope's `id`: stable across readers, redeliveries and servers, so a
 * client can drop a duplicate by it.
 * @internal
 */
import { Buffer } from 'node:buffer'
import { Packr } from 'msgpackr'
import type { Envelope } from '../stage/envelope.js'

/** The entry's one field. */
export const ENTRY_FIELD = 'e'

const packr = new Packr({ useRecords: false })

/** The field value of an event (a copy: msgpackr's pack returns a view into a buffer it reuses). */
export function encodeEntry (ts: number, topic: string | undefined, event: string | undefined, payload: unknown): Buffer {
  return Buffer.from(packr.pack([ts, topic ?? null, event ?? null, payload]))
}

/**
 * The envelope of entry `id` with fields `fields` (`[name, value, ...]`), its `ack` set to `ack`;
 * undefined when the entry is not an event of this format (it is acknowledged and counted, never retried).
 */
export function decodeEntry (id: string, fields: readonly Buffer[] | null, ack: string): Envelope | undefined {
  if (fields === null) return undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if ((fields[i] as Buffer).toString() !== ENTRY_FIELD) continue
    let body: unknown
    try {
      body = packr.unpack(fields[i + 1] as Buffer)
    } catch {
      return undefined
    }
    if (!Array.isArray(body) || body.length !== 4 || typeof body[0] !== 'number') return undefined
    const [ts, topic, event, payload] = body as [number, unknown, unknown, unknown]
    const envelope: Envelope = { id, ts, payload, ack }
    if (typeof topic === 'string') envelope.topic = topic
    if (typeof event === 'string') envelope.event = event
    return envelope
  }
  return undefined
}
