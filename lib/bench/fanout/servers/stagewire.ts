/**
 * stagewire: the `Endpoint` as an app would use it, defaults unchanged. Clients connect with a
 * signed token and join `bench:all`; a broadcast is `endpoint.broadcast('bench:all', 'msg', payload)`
 * (serialised once, queued per client, written in slices of `fanoutSliceSize` per event-loop turn).
 */
import { randomBytes } from 'node:crypto'
import { Endpoint, defineChannel, signToken } from '../../../index.js'
import type { BenchPayload } from '../payload.js'
import { PHOENIX_TOPIC } from '../protocol.js'
import type { FanoutServer } from '../server.js'

const BenchChannel = defineChannel<null>({
  join () { return { state: null } },
})

/** Starts an endpoint on a free port. */
export async function start (): Promise<FanoutServer> {
  const secret = randomBytes(32)
  const endpoint = new Endpoint({ port: 0, secret, channels: [['bench:*', BenchChannel]] })
  const { port } = await endpoint.listen()
  const token = signToken({ bench: true }, secret, { maxAgeSeconds: 3600 })
  return {
    dialect: 'phoenix',
    url: `ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0&token=${encodeURIComponent(token)}`,
    broadcast (payload: BenchPayload) {
      endpoint.broadcast(PHOENIX_TOPIC, 'msg', payload)
    },
    counters () {
      const s = endpoint.stats()
      return {
        frames: s.messagesSent,
        writes: s.writes,
        slices: s.slices,
        drops: Object.values(s.drops).reduce((a, b) => a + b, 0),
        disconnects: Object.values(s.disconnects).reduce((a, b) => a + b, 0),
      }
    },
    close: () => endpoint.close({ timeoutMs: 2000 }),
  }
}
