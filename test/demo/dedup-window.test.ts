// The duplicate check's bounded memory.
import t from 'tap'
import { DedupWindow } from '../../lib/demo/dedup-window.js'

t.test('an id seen again within the window is a duplicate', async (t) => {
  const w = new DedupWindow(8)
  t.equal(w.seen(1), false)
  t.equal(w.seen('1'), false, 'string and number ids are different ids')
  t.equal(w.seen(1), true)
  t.equal(w.seen('1'), true)
})

t.test('remembers at least the last size/2 ids and at most the last size', async (t) => {
  const w = new DedupWindow(8)
  for (let id = 0; id < 100; id++) t.equal(w.seen(id), false, `first sight of ${id}`)
  for (let id = 96; id < 100; id++) t.equal(w.seen(id), true, `${id}, among the last 4, is remembered`)
  t.equal(w.seen(80), false, '80, 20 ids back, is forgotten')
})
