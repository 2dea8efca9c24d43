// The outbound queue, driven directly (no sockets): the byte bound together with the socket's
// buffered bytes, each policy's choice of what to drop, drop counts by reason, order kept, and a
// long random run against a plain-array model (holes and compaction included).
import t from 'tap'
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'
import { OVER_LIMIT, OutboundQueue, WireFrame, frameHeaderBytes, wireFrame } from '../../lib/channels/outbound.js'
import type { DropCounters, Frame, OutboundPolicy } from '../../lib/channels/outbound.js'

function counters (): DropCounters {
  return { dropped_oldest: 0, conflated: 0, dropped_newest: 0 }
}

/** Records what a queue writes: frames handed to ws with their kind, framed bytes as `['wire', bytes]`. */
function sink (): { sent: Array<[Frame | 'wire', boolean | Buffer]>, sendFrame(data: string | Buffer, options: { binary: boolean }): void, writeFramed(bytes: Buffer): void } {
  const sent: Array<[Frame | 'wire', boolean | Buffer]> = []
  return {
    sent,
    sendFrame (data, options) { sent.push([data, options.binary]) },
    writeFramed (bytes) { sent.push(['wire', bytes]) },
  }
}

// ws's frame parser; @types/ws does not declare it, hence the local type.
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: new (options: { isServer: boolean, maxPayload: number }) => Writable }

/** Parses WebSocket frames with ws's own receiver (as a client would: unmasked frames are expected). */
function parse (bytes: Buffer): Promise<Array<{ data: Buffer, binary: boolean }>> {
  return new Promise((resolve, reject) => {
    const messages: Array<{ data: Buffer, binary: boolean }> = []
    const receiver = new Receiver({ isServer: false, maxPayload: 0 })
    receiver.on('message', (data: Buffer, binary: boolean) => messages.push({ data, binary }))
    receiver.on('error', reject)
    receiver.write(bytes, () => resolve(messages))
  })
}

t.test('wireFrame: one complete WebSocket message per length class, that ws\'s receiver reads back', async (t) => {
  for (const n of [0, 5, 125, 126, 1000, 65_535, 65_536, 200_000]) {
    const payload = Buffer.alloc(n, 0x61)
    const text = wireFrame(payload, false)
    t.ok(text instanceof WireFrame)
    t.equal(text.bytes.length, n + frameHeaderBytes(n), `${n} bytes: header as RFC 6455 sizes it`)
    const [message] = await parse(text.bytes)
    t.equal(message?.binary, false)
    t.ok(message?.data.equals(payload), `${n}-byte text payload intact`)
  }
  const [bin] = await parse(wireFrame(Buffer.from([1, 2, 3]), true).bytes)
  t.strictSame([bin?.binary, [...(bin?.data ?? [])]], [true, [1, 2, 3]], 'binary opcode')
})

t.test('framed frames are written as they are, in order with the others', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  const wire = wireFrame(Buffer.from('"x"'), false)
  q.offer('reply', 10, null, false, 0, 100, 'drop-oldest', drops)
  q.offer(wire, wire.bytes.length, 't', false, 0, 100, 'drop-oldest', drops)
  q.offer('after', 10, null, false, 0, 100, 'drop-oldest', drops)
  const s = sink()
  t.strictSame(q.writeTo(s), { written: 3, timed: 0 })
  t.strictSame(s.sent, [['reply', false], ['wire', wire.bytes], ['after', false]])
})

t.test('frame header sizes follow RFC 6455', async (t) => {
  t.strictSame([0, 125, 126, 65_535, 65_536, 10_000_000].map(frameHeaderBytes), [2, 2, 4, 4, 10, 10])
})

t.test('under the limit every frame is queued, and written in order with its kind', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  t.equal(q.offer('a', 10, 'x', false, 0, 100, 'drop-oldest', drops), 0)
  t.equal(q.offer(Buffer.from('b'), 20, null, true, 0, 100, 'drop-oldest', drops), 0)
  t.equal(q.offer('c', 70, 'x', false, 0, 100, 'drop-oldest', drops), 0, 'exactly at the limit fits')
  t.strictSame([q.length, q.bytes], [3, 100])
  const s = sink()
  t.strictSame(q.writeTo(s), { written: 3, timed: 0 })
  t.strictSame(s.sent, [['a', false], [Buffer.from('b'), true], ['c', false]])
  t.strictSame([q.length, q.bytes], [0, 0], 'empty after a write')
  t.strictSame(drops, counters())
})

t.test('timed frames record their push-to-write latency as they are written; dropped ones do not', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  q.offer('reply', 10, null, false, 0, 100, 'conflate', drops)
  q.offer('old', 30, 'x', false, 0, 100, 'conflate', drops, 1000)
  q.offer('b1', 30, 'y', false, 0, 100, 'conflate', drops, 1001)
  q.offer('new', 30, 'x', false, 0, 70, 'conflate', drops, 1002.5)
  const recorded: number[] = []
  const s = sink()
  t.strictSame(q.writeTo(s, { record: (ms) => recorded.push(ms) }, 1010), { written: 3, timed: 2 })
  t.strictSame(s.sent.map(([d]) => d), ['reply', 'b1', 'new'], 'the older x was conflated')
  t.strictSame(recorded, [9, 7.5], 'one sample per timed frame written, none for the reply')
})

t.test('drop-oldest: pending frames go oldest first; the socket\'s buffered bytes count against the limit', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  for (const f of ['a', 'b', 'c']) q.offer(f, 30, null, false, 0, 100, 'drop-oldest', drops)
  t.equal(q.offer('d', 30, null, false, 0, 100, 'drop-oldest', drops), 1, 'one dropped to make room')
  t.equal(q.offer('e', 50, null, false, 0, 100, 'drop-oldest', drops), 2, 'two dropped for a bigger frame')
  t.strictSame(drops, { dropped_oldest: 3, conflated: 0, dropped_newest: 0 })
  const s = sink()
  q.writeTo(s)
  t.strictSame(s.sent.map(([f]) => f), ['d', 'e'], 'the newest kept, in order')

  // The socket already holds 90 bytes: a 20-byte frame cannot fit even with nothing pending.
  t.equal(q.offer('f', 20, null, false, 90, 100, 'drop-oldest', drops), 1, 'the new frame itself is dropped')
  t.equal(q.length, 0)
  t.equal(drops.dropped_newest, 1)
  t.equal(q.offer('g', 10, null, false, 90, 100, 'drop-oldest', drops), 0, 'a frame that fits beside them is queued')
})

t.test('conflate: only the newest message per topic is kept once over the limit; keyless frames are never conflated', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  // Under the limit, nothing is conflated: a healthy client loses nothing.
  for (const [f, k] of [['x1', 'x'], ['y1', 'y'], ['x2', 'x'], ['r1', null]] as const) q.offer(f, 20, k, false, 0, 100, 'conflate', drops)
  t.equal(q.length, 4)
  t.equal(q.offer('x3', 20, 'x', false, 0, 100, 'conflate', drops), 0, 'fits: 100 bytes')
  t.equal(q.offer('x4', 20, 'x', false, 0, 100, 'conflate', drops), 3, 'over: x1, x2, x3 replaced by x4')
  t.strictSame(drops, { dropped_oldest: 0, conflated: 3, dropped_newest: 0 })
  t.equal(q.offer('y2', 70, 'y', false, 0, 100, 'conflate', drops), 2, 'y1 conflated, then the oldest (r1) dropped for room')
  t.strictSame(drops, { dropped_oldest: 1, conflated: 4, dropped_newest: 0 })
  const s = sink()
  q.writeTo(s)
  t.strictSame(s.sent.map(([f]) => f), ['x4', 'y2'])
})

t.test('disconnect: nothing dropped, OVER_LIMIT returned, queue unchanged', async (t) => {
  const q = new OutboundQueue()
  const drops = counters()
  q.offer('a', 60, 'x', false, 0, 100, 'disconnect', drops)
  t.equal(q.offer('b', 60, 'x', false, 0, 100, 'disconnect', drops), OVER_LIMIT)
  t.strictSame([q.length, q.bytes], [1, 60])
  t.strictSame(drops, counters())
})

t.test('a long random run matches a plain-array model under every policy', async (t) => {
  let seed = 42
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  for (const policy of ['drop-oldest', 'conflate'] as OutboundPolicy[]) {
    const q = new OutboundQueue()
    const drops = counters()
    let model: Array<{ f: string, size: number, key: string | null }> = []
    let modelDrops = 0
    let returned = 0
    const limit = 2000
    for (let i = 0; i < 20_000; i++) {
      if (random() < 0.02) {
        const s = sink()
        q.writeTo(s)
        t.strictSame(s.sent.map(([f]) => f), model.map((m) => m.f), `${policy}: write ${i} matches the model`)
        model = []
        continue
      }
      const size = 10 + Math.floor(random() * 200)
      const key = random() < 0.2 ? null : `t${Math.floor(random() * 5)}`
      const buffered = Math.floor(random() * 300)
      const f = `f${i}`
      returned += q.offer(f, size, key, false, buffered, limit, policy, drops)
      // The model: the same rules, written the obvious way.
      const total = (): number => model.reduce((n, m) => n + m.size, 0)
      if (total() + size + buffered > limit) {
        if (policy === 'conflate' && key !== null) {
          const before = model.length
          model = model.filter((m) => m.key !== key)
          modelDrops += before - model.length
        }
        while (model.length > 0 && total() + size + buffered > limit) {
          model.shift()
          modelDrops++
        }
      }
      if (total() + size + buffered <= limit) model.push({ f, size, key })
      else modelDrops++
      if (q.bytes !== total() || q.length !== model.length) {
        t.fail(`${policy}: diverged at ${i}: queue ${q.length}/${q.bytes}, model ${model.length}/${total()}`)
        return
      }
    }
    t.equal(returned, modelDrops, `${policy}: drops returned match the model`)
    t.equal(drops.dropped_oldest + drops.conflated + drops.dropped_newest, modelDrops, `${policy}: drops counted by reason add up`)
    if (policy === 'conflate') t.ok(drops.conflated > 0, 'conflation happened')
    t.ok(drops.dropped_oldest > 0)
  }
})
