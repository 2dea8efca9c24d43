// The demo's producer: fed only by runtime.push() (like builtin:queue), plus the chaos hook.
import { chaos } from './chaos.js'

export default {
  handleCall (request, state) {
    const reply = chaos(request)
    if (reply === undefined) throw new Error(`ingest answers { chaos: "throw" | "exit" | "hang" }, got ${JSON.stringify(request)}`)
    return { reply, state }
  },
}
