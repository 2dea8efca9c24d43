// The bytes of one broadcast between servers: header read without decoding, body in MessagePack.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { HEADER_BYTES, decodeBody, encodeMessage, isFrom, senderOf, seqOf } from '../../lib/cluster/message.js'

t.test('a message round-trips, and says who sent it and its number without decoding the body', async (t) => {
  const node = randomBytes(16)
  const other = randomBytes(16)
  const message = encodeMessage(node, 42, 'feed:x', 'msg', { price: 101.5, tags: ['a'], nested: { ok: true } }, 1234.5)
  t.equal(message[0], 1, 'format version first')
  t.ok(isFrom(message, node))
  t.notOk(isFrom(message, other))
  t.equal(senderOf(message), node.toString('hex'))
  t.equal(seqOf(message), 42)
  t.same(decodeBody(message), { topic: 'feed:x', event: 'msg', payload: { price: 101.5, tags: ['a'], nested: { ok: true } }, ts: 1234.5 })
  t.same(decodeBody(encodeMessage(node, 1, 't', 'e', {}, undefined)), { topic: 't', event: 'e', payload: {}, ts: undefined }, 'no push time: undefined')
  t.same(decodeBody(encodeMessage(node, 1, 't', 'e', {}, 5, 'feed/1700000000000-0')), { topic: 't', event: 'e', payload: {}, ts: 5, dedup: 'feed/1700000000000-0' }, 'a durable event carries its <stream>/<entry id>')
  t.notOk('dedup' in (decodeBody(message) ?? {}), 'the others carry none')
})

t.test('each message owns its bytes (msgpackr reuses its buffer)', async (t) => {
  const node = randomBytes(16)
  const first = encodeMessage(node, 1, 'a', 'e', { n: 1 }, 1)
  encodeMessage(node, 2, 'b', 'e', { n: 2 }, 2)
  t.same(decodeBody(first), { topic: 'a', event: 'e', payload: { n: 1 }, ts: 1 })
})

t.test('what is not a broadcast of this format is recognised as such', async (t) => {
  const node = randomBytes(16)
  t.equal(senderOf(Buffer.from('hello')), undefined, 'too short')
  const wrongVersion = encodeMessage(node, 1, 'a', 'e', {}, 1)
  wrongVersion[0] = 9
  t.equal(senderOf(wrongVersion), undefined, 'another version')
  t.notOk(isFrom(Buffer.alloc(HEADER_BYTES - 1), node))
  const header = encodeMessage(node, 1, 'a', 'e', {}, 1).subarray(0, HEADER_BYTES)
  const notArray = Buffer.concat([header, Buffer.from([0x2a])]) // msgpack 42
  t.equal(decodeBody(notArray), undefined)
})
