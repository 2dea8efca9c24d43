/**
 * `builtin:queue` — a producer fed only by `runtime.push()`.
 *
 * It has no callbacks: pushed events are dispatched against the demand its
 * consumers have, and the rest wait in its bounded buffer (bufferSize,
 * bufferKeep), which is all a queue needs.
 */
import { defineProducer } from '../stage/behaviour.js'

export default defineProducer({})
