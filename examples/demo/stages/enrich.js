// The demo's producer-consumer: turns a pushed record into what clients receive.
//
//   pushed:   payload { seq, data, origin? }, topic "feed:<key>"
//   emitted:  payload { id, ts, seq, key, kind, data, origin? }
//
// `id` and `ts` come from the envelope (the event's identity and push time), so a client can drop
// duplicates and measure push-to-receipt latency; `kind` is the enrichment. Across servers
// (`--pubsub`), `origin` names the server the event was pushed on, and prefixes the id: pushed ids
// are numbered per runtime, so two servers' ids would collide at a client. It drops
// nothing: the demo's accounting expects every pushed event to reach the broadcaster.
import { chaos } from './chaos.js'

/** A short label for a record of any of the recordings: its type, action or, failing those, "event". */
function kindOf (data) {
  if (data === null || typeof data !== 'object') return typeof data
  return data.type ?? data.action ?? (data.page !== undefined ? 'edit' : 'event')
}

export default {
  handleEvents (events, _from, state) {
    const out = new Array(events.length)
    for (let i = 0; i < events.length; i++) {
      const e = events[i]
      const p = e.payload
      out[i] = {
        ...e,
        payload: p.origin === undefined
          ? { id: e.id, ts: e.ts, seq: p.seq, key: e.topic.slice('feed:'.length), kind: kindOf(p.data), data: p.data }
          : { id: `${p.origin}:${e.id}`, ts: e.ts, seq: p.seq, key: e.topic.slice('feed:'.length), kind: kindOf(p.data), data: p.data, origin: p.origin },
      }
    }
    return { events: out, state }
  },
  handleCall (request, state) {
    const reply = chaos(request)
    if (reply === undefined) throw new Error(`enrich answers { chaos: "throw" | "exit" | "hang" }, got ${JSON.stringify(request)}`)
    return { reply, state }
  },
}
