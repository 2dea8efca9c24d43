// How fast each batch codec moves events between threads.
//
//   node --import tsx benchmarks/codec.bench.ts [--quick] [--chain-only] [--codec=shape]
//   (WINDOW=n sets the chain's credit window in batches, default 4)
//
// 1. One thread: encode and decode CPU ns an event, batches of 10 / 100 / 1000 events of
//    `{ id, ts, payload: { n, s: <100 chars> } }`. Structured clone is measured as v8.serialize /
//    v8.deserialize, the serializer postMessage uses.
// 2. The chain the codecs exist for: producer → middle → consumer, each in its own worker thread,
//    over direct MessageChannels, batches of 1000, at most `WINDOW` batches un-acked. The middle
//    stage decodes, adds a field to every event and re-encodes. Events/s counted at the consumer
//    (which checks every id arrives once, in order), median of 3 rounds, codecs alternating; CPU
//    is the whole process's (all threads) per event over the same window.
import { Worker, MessageChannel } from 'node:worker_threads'
import type { MessagePort, WorkerOptions } from 'node:worker_threads'
import { serialize, deserialize } from 'node:v8'
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { once } from 'node:events'
import type { BatchCodec, CodecName } from '../lib/stage/codec/codec.js'
import { ShapeCodec } from '../lib/stage/codec/shape.js'
import type { Envelope } from '../lib/stage/envelope.js'
import { CODECS, createCodec, makeEvents, makePayloads, type BenchPayload, type ChainBoot, type ChainCommand, type ChainReport } from './codec-fixtures.js'

const QUICK = process.argv.includes('--quick')
const CHAIN_ONLY = process.argv.includes('--chain-only')
const ONLY = process.argv.find((a) => a.startsWith('--codec='))?.slice('--codec='.length)
const BATCH_SIZES = [10, 100, 1000]
const EVENTS_PER_ROUND = QUICK ? 50_000 : 200_000
const ROUNDS = 5
const CHAIN_BATCH = 1000
const WINDOW = Number(process.env.WINDOW ?? 4)
if (!Number.isInteger(WINDOW) || WINDOW < 1) throw new RangeError(`WINDOW must be a positive integer, got ${String(process.env.WINDOW)}`)
const CHAIN_ROUNDS = 3
const WARMUP_MS = QUICK ? 500 : 1000
const MEASURE_MS = QUICK ? 1500 : 4000

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cpuNs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) * 1000 }

/** A codec as the single-thread part runs it: encode on one instance, decode on its peer. */
interface Row { label: string, sender: () => { encode: (e: Envelope[]) => unknown }, receiver: () => { decode: (b: unknown) => unknown } }

function codecRow (label: string, make: () => BatchCodec): Row {
  return {
    label,
    sender: () => { const c = make(); return { encode: (e) => c.encode(e, e.length).body } },
    receiver: () => { const c = make(); return { decode: (b) => c.decode(b) } },
  }
}

const ROWS: Row[] = [
  { label: 'clone (v8 serialize)', sender: () => ({ encode: (e) => serialize(e) }), receiver: () => ({ decode: (b) => deserialize(b as Buffer) }) },
  codecRow('msgpack', () => createCodec('msgpack')),
  codecRow('shape', () => createCodec('shape')),
  codecRow('shape copyStrings', () => new ShapeCodec({ copyStrings: true })),
  codecRow('shape ringBytes 0', () => new ShapeCodec({ ringBytes: 0 })),
]

/**
 * Median encode and decode CPU ns an event for one codec and batch size. Batches go in chunks of
 * about 8,000 events: the chunk is encoded, then decoded, so that a codec with a ring buffer runs
 * with the ring in use (as in the chain) rather than full.
 */
function singleThread (row: Row, batch: number): { encode: number, decode: number } {
  const payloads = makePayloads(4096)
  const batches: Envelope<BenchPayload>[][] = []
  for (let i = 0; i < 64; i++) batches.push(makeEvents(batch, i * batch, payloads))
  const sender = row.sender()
  const receiver = row.receiver()
  const chunk = Math.max(1, Math.round(8000 / batch))
  const chunks = Math.max(1, Math.round(EVENTS_PER_ROUND / (chunk * batch)))
  const bodies: unknown[] = new Array<unknown>(chunk)
  const run = (): { encode: number, decode: number } => {
    let encode = 0
    let decode = 0
    for (let c = 0; c < chunks; c++) {
      let t = cpuNs()
      for (let i = 0; i < chunk; i++) bodies[i] = sender.encode(batches[(c * chunk + i) & 63])
      encode += cpuNs() - t
      t = cpuNs()
      for (let i = 0; i < chunk; i++) receiver.decode(bodies[i])
      decode += cpuNs() - t
    }
    const events = chunks * chunk * batch
    return { encode: encode / events, decode: decode / events }
  }
  run() // warm-up
  const rounds: { encode: number, decode: number }[] = []
  for (let r = 0; r < ROUNDS; r++) rounds.push(run())
  return { encode: median(rounds.map((x) => x.encode)), decode: median(rounds.map((x) => x.decode)) }
}

/**
 * Starts a .ts worker: Node 20 does not apply tsx's hooks to a worker's entry (`execArgv: ['--import',
 * 'tsx']` fails with "Unknown file extension .ts"), so the thread registers tsx first, as
 * lib/actor/spawn.ts does. Other flags (`--cpu-prof`) pass on to the workers.
 */
function spawnTs (file: URL, options: WorkerOptions): Worker {
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}) })`
  const execArgv = process.execArgv.filter((a, i, all) => !(a === '--import' && all[i + 1] === 'tsx') && !(a === 'tsx' && all[i - 1] === '--import') && a !== '--import=tsx')
  return new Worker(code, { ...options, eval: true, execArgv })
}

/** One chain run: events/s at the consumer and process CPU ns an event over the measured window. */
async function chain (codec: CodecName): Promise<{ rate: number, cpu: number }> {
  const ab = new MessageChannel()
  const bc = new MessageChannel()
  const entry = new URL('./codec-chain-worker.ts', import.meta.url)
  const start = (boot: ChainBoot, transferList: MessagePort[]): Worker => spawnTs(entry, { workerData: boot, transferList })
  const common = { codec, batch: CHAIN_BATCH, window: WINDOW }
  const workers = [
    start({ ...common, role: 'producer', down: ab.port1 }, [ab.port1]),
    start({ ...common, role: 'middle', up: ab.port2, down: bc.port1 }, [ab.port2, bc.port1]),
    start({ ...common, role: 'consumer', up: bc.port2 }, [bc.port2]),
  ]
  const [producer, , consumer] = workers
  let failure: ((err: Error) => void) | null = null
  const failed = new Promise<never>((_resolve, reject) => { failure = reject })
  failed.catch(() => {})
  let counted: ((n: number) => void) | null = null
  let ready = 0
  let allReady: (() => void) | null = null
  const readyP = new Promise<void>((resolve) => { allReady = resolve })
  for (const w of workers) {
    w.on('error', (err) => failure?.(err))
    w.on('message', (m: ChainReport) => {
      switch (m.type) {
        case 'ready': if (++ready === 3) allReady?.(); break
        case 'count': counted?.(m.count); break
        case 'failed': failure?.(new Error(m.message)); break
        default: failure?.(new Error(`unknown report ${JSON.stringify(m)}`))
      }
    })
  }
  const count = async (): Promise<number> => {
    const p = new Promise<number>((resolve) => { counted = resolve })
    consumer.postMessage({ type: 'count' } satisfies ChainCommand)
    return Promise.race([p, failed])
  }
  try {
    await Promise.race([readyP, failed])
    producer.postMessage({ type: 'start' } satisfies ChainCommand)
    await Promise.race([sleep(WARMUP_MS), failed])
    const c0 = await count()
    const t0 = performance.now()
    const cpu0 = cpuNs()
    await Promise.race([sleep(MEASURE_MS), failed])
    const c1 = await count()
    const t1 = performance.now()
    const cpu1 = cpuNs()
    return { rate: (c1 - c0) / ((t1 - t0) / 1000), cpu: (cpu1 - cpu0) / (c1 - c0) }
  } finally {
    // A stage exits on 'stop' (writing its --cpu-prof profile); terminate is the backstop.
    const exited = workers.map((w) => once(w, 'exit'))
    for (const w of workers) w.postMessage({ type: 'stop' } satisfies ChainCommand)
    const timer = setTimeout(() => { for (const w of workers) void w.terminate() }, 5000)
    await Promise.all(exited)
    clearTimeout(timer)
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function main (): Promise<void> {
  console.log(`# codec bench — ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`)
  if (!CHAIN_ONLY) {
    console.log('\n## one thread: CPU ns an event, encode / decode (median of 5)\n')
    console.log(`| codec | ${BATCH_SIZES.map((b) => `batch ${b}`).join(' | ')} |`)
    console.log(`|---|${BATCH_SIZES.map(() => '---|').join('')}`)
    for (const row of ROWS) {
      if (ONLY !== undefined && !row.label.startsWith(ONLY)) continue
      const cells = BATCH_SIZES.map((b) => { const r = singleThread(row, b); return `${fmt(r.encode)} / ${fmt(r.decode)}` })
      console.log(`| ${row.label} | ${cells.join(' | ')} |`)
    }
  }
  console.log(`\n## chain producer → middle → consumer, 3 threads, batch ${CHAIN_BATCH}, window ${WINDOW} batches (median of ${CHAIN_ROUNDS})\n`)
  const codecs = CODECS.filter((c) => ONLY === undefined || c === ONLY)
  const results = new Map<CodecName, { rate: number, cpu: number }[]>(codecs.map((c) => [c, []]))
  for (let r = 0; r < CHAIN_ROUNDS; r++) {
    for (const codec of codecs) results.get(codec)?.push(await chain(codec))
  }
  const base = median(results.get('clone')?.map((x) => x.rate) ?? [NaN])
  console.log('| codec | events/s | runs | CPU ns an event (all threads) | vs clone |')
  console.log('|---|---|---|---|---|')
  for (const [codec, runs] of results) {
    const rate = median(runs.map((x) => x.rate))
    console.log(`| ${codec} | ${fmt(rate)} | ${runs.map((x) => fmt(x.rate / 1e6, 2)).join(' / ')} M | ${fmt(median(runs.map((x) => x.cpu)))} | ${fmt(rate / base, 2)}x |`)
  }
}

await main()
