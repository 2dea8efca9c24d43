// The demo's channel: `feed:<key>`. Anyone holding a valid connect token may join any feed; a
// real app would check the token's assigns here (see the README's user:<id> example).
// `ping` is answered, so the page can show a round trip.
export default {
  join (topic) {
    return { state: { topic } }
  },
  handleIn (event, _payload, state) {
    if (event === 'ping') return { state, reply: { status: 'ok', response: { pong: Date.now() } } }
    return { state, reply: { status: 'error', response: { reason: `unknown event ${event}` } } }
  },
}
