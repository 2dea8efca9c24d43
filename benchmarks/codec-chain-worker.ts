// One stage of the codec benchmark's chain (benchmarks/codec.bench.ts), started by the bench in
// its own thread:
//
//   producer ──batch──► middle ──batch──► consumer
//       ◄─────ack─────────  ◄──────ack─────────
//
// The producer keeps at most `window` batches un-acked; the consumer acks each batch to the middle
// stage, which passes the ack up, so every queue stays bounded. The middle stage decodes, adds a
// field to every event and re-encodes; the consumer decodes, checks every id is the next one and
// the added field is there, and counts.
import { parentPort, workerData } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import type { Envelope } from '../lib/stage/envelope.js'
import { createCodec, makePayloads, type BenchPayload, type ChainBoot, type ChainCommand, type ChainReport } from './codec-fixtures.js'

const PAYLOADS = 4096

function fail (message: string): never {
  parentPort?.postMessage({ type: 'failed', message } satisfies ChainReport)
  process.exit(1)
}

function producer (boot: ChainBoot, down: MessagePort): void {
  const codec = createCodec(boot.codec)
  const payloads = makePayloads(PAYLOADS)
  const events: Envelope<BenchPayload>[] = []
  let id = 0
  let inFlight = 0
  let running = false
  const pump = (): void => {
    while (running && inFlight < boot.window) {
      const ts = Date.now()
      for (let i = 0; i < boot.batch; i++) {
        events[i] = { id, ts: ts + i / 1024, payload: payloads[id & (PAYLOADS - 1)] }
        id++
      }
      const { body, transfer } = codec.encode(events, boot.batch)
      down.postMessage(body, transfer)
      inFlight++
    }
  }
  down.on('message', () => { inFlight--; pump() })
  parentPort?.on('message', (m: ChainCommand) => {
    switch (m.type) {
      case 'start': running = true; pump(); break
      case 'count': break
      case 'stop': running = false; process.exit(0); break
      default: fail(`unknown command ${JSON.stringify(m)}`)
    }
  })
}

function middle (boot: ChainBoot, up: MessagePort, down: MessagePort): void {
  const codec = createCodec(boot.codec)
  up.on('message', (body: unknown) => {
    const events = codec.decode(body)
    const seen = Date.now()
    for (let i = 0; i < events.length; i++) (events[i].payload as BenchPayload).seen = seen
    const out = codec.encode(events, events.length)
    down.postMessage(out.body, out.transfer)
  })
  // An ack from the consumer goes on to the producer.
  down.on('message', () => { up.postMessage(0) })
  parentPort?.on('message', (m: ChainCommand) => { if (m.type === 'stop') process.exit(0) })
}

function consumer (boot: ChainBoot, up: MessagePort): void {
  const codec = createCodec(boot.codec)
  let next = 0
  up.on('message', (body: unknown) => {
    const events = codec.decode(body)
    for (let i = 0; i < events.length; i++) {
      const e = events[i]
      if (e.id !== next || typeof (e.payload as BenchPayload).seen !== 'number') fail(`consumer: event ${JSON.stringify(e)} where id ${next} was due`)
      next++
    }
    up.postMessage(0)
  })
  parentPort?.on('message', (m: ChainCommand) => {
    switch (m.type) {
      case 'count': parentPort?.postMessage({ type: 'count', count: next } satisfies ChainReport); break
      case 'start': break
      case 'stop': process.exit(0); break
      default: fail(`unknown command ${JSON.stringify(m)}`)
    }
  })
}

process.on('uncaughtException', (err) => fail(err.stack ?? String(err)))
const boot = workerData as ChainBoot
switch (boot.role) {
  case 'producer': if (boot.down === undefined) fail('producer: no down port'); producer(boot, boot.down); break
  case 'middle': if (boot.up === undefined || boot.down === undefined) fail('middle: ports missing'); middle(boot, boot.up, boot.down); break
  case 'consumer': if (boot.up === undefined) fail('consumer: no up port'); consumer(boot, boot.up); break
  default: fail(`unknown role ${String(boot.role)}`)
}
parentPort?.postMessage({ type: 'ready' } satisfies ChainReport)
