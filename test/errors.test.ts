import t from 'tap'
import {
  ActorCrashedError, ActorExitedError, SpecError, StagewireError, fromWire, toWire,
} from '../lib/errors.js'

t.test('a stagewire error survives the trip as plain data, class and code intact', async (t) => {
  const original = new ActorCrashedError('actor "x" crashed')
  const wire = structuredClone(toWire(original))
  const back = fromWire(wire)
  t.type(back, ActorCrashedError)
  t.type(back, StagewireError)
  t.equal((back as ActorCrashedError).code, 'ERR_ACTOR_CRASHED')
  t.equal(back.message, 'actor "x" crashed')
  t.equal(back.stack, original.stack)
})

t.test('subclass fields travel too', async (t) => {
  const spec = fromWire(structuredClone(toWire(new SpecError('bad', 'children[1].id'))))
  t.type(spec, SpecError)
  t.equal((spec as SpecError).path, 'children[1].id')
  const exited = fromWire(structuredClone(toWire(new ActorExitedError('gone', 7))))
  t.type(exited, ActorExitedError)
  t.equal((exited as ActorExitedError).exitCode, 7)
})

t.test("an app's own error keeps its name and code", async (t) => {
  const err = Object.assign(new TypeError('nope'), { code: 'E_APP' })
  const back = fromWire(structuredClone(toWire(err)))
  t.equal(back.name, 'TypeError')
  t.equal((back as Error & { code?: string }).code, 'E_APP')
  t.equal(back.message, 'nope')
})

t.test('a thrown non-error becomes a readable message', async (t) => {
  t.equal(fromWire(toWire('just a string')).message, 'just a string')
  t.equal(fromWire(toWire({ weird: 1 })).message, '{"weird":1}')
})
