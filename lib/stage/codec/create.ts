/**
 * Picks a batch codec by name. Each port end gets its own instance.
 * @internal
 */
import { InvalidArgumentError } from '../../errors.js'
import { CloneCodec } from './clone.js'
import { CODEC_NAMES } from './codec.js'
import type { BatchCodec, CodecName } from './codec.js'
import { MsgpackCodec } from './msgpack.js'
import { ShapeCodec } from './shape.js'

/** The codecs by name, for validation messages. */
export const CODECS: readonly CodecName[] = CODEC_NAMES

/**
 * A new codec instance.
 * @throws ERR_INVALID_ARGUMENT for an unknown name.
 */
export function createCodec (name: string): BatchCodec {
  switch (name) {
    case 'clone': return new CloneCodec()
    case 'msgpack': return new MsgpackCodec()
    case 'shape': return new ShapeCodec()
    default: throw new InvalidArgumentError(`codec must be one of ${CODECS.join('|')}, got ${JSON.stringify(name)}`)
  }
}
