// The misroute detector, on frames as the official client's onMessage hands them over.
import t from 'tap'
import { checkFrame } from '../../lib/demo/frame-check.js'
import type { ClientFrame } from '../../lib/demo/frame-check.js'

const joined = new Set(['feed:a', 'feed:b/c'])
const frame = (topic: string, event: string, payload: unknown): ClientFrame => ({ join_ref: null, ref: null, topic, event, payload })
const good = (key: string): object => ({ id: 1, ts: 1.5, key, data: { x: 1 } })

t.test('deliveries: a joined topic, the topic\'s key', async (t) => {
  t.equal(checkFrame(frame('feed:a', 'event', good('a')), joined), 'delivery')
  t.equal(checkFrame(frame('feed:b/c', 'anything', good('b/c')), joined), 'delivery', 'any event name')
  t.equal(checkFrame(frame('feed:a', 'event', { id: 'x-1', ts: 2, key: 'a', data: null }), joined), 'delivery', 'string ids')
  t.equal(checkFrame(frame('feed:a', 'event', good('a')), new Map([['feed:a', 1]])), 'delivery', 'a Map of joined topics works too')
})

t.test('misroutes: a topic not joined, or another key', async (t) => {
  t.equal(checkFrame(frame('feed:z', 'event', good('z')), joined), 'not_joined', 'a broadcast of a topic the client did not join')
  t.equal(checkFrame(frame('feed:a', 'event', good('b')), joined), 'key_mismatch', 'a joined topic with another key')
  t.equal(checkFrame(frame('feed:a', 'event', good('aa')), joined), 'key_mismatch', 'a key that merely starts like it')
  t.equal(checkFrame(frame('feed:b/c', 'event', good('c')), joined), 'key_mismatch', 'a key that merely ends like it')
  t.equal(checkFrame(frame('feed:a', 'event', good('')), joined), 'key_mismatch')
})

t.test('control frames are not counted, whatever their topic', async (t) => {
  t.equal(checkFrame(frame('phoenix', 'phx_reply', { status: 'ok', response: {} }), joined), 'control', 'a heartbeat reply')
  t.equal(checkFrame(frame('feed:z', 'phx_reply', { status: 'ok', response: {} }), joined), 'control', 'a join reply of a topic being left')
  t.equal(checkFrame(frame('feed:a', 'phx_error', {}), joined), 'control')
  t.equal(checkFrame(frame('feed:a', 'phx_close', {}), joined), 'control')
})

t.test('invalid payloads on a joined topic', async (t) => {
  for (const payload of [null, 'text', [], { ts: 1, key: 'a' }, { id: {}, ts: 1, key: 'a' }, { id: 1, ts: '1', key: 'a' }, { id: 1, ts: 1 }, { id: 1, ts: 1, key: 7 }, new ArrayBuffer(2)]) {
    t.equal(checkFrame(frame('feed:a', 'event', payload), joined), 'invalid', JSON.stringify(payload) ?? String(payload))
  }
})
