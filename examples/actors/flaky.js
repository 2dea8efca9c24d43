// An actor that fails on purpose every few seconds, a different way each
// time (throw, process.exit, an infinite loop), to show the supervisor at work.
// It learns which fault comes next from its restart count, kept by nobody
// but the clock: (start time / crashEveryMs) modulo 3.
const FAULTS = ['throw', 'exit', 'hang']

export default {
  init ({ crashEveryMs = 3000 } = {}) {
    const fault = FAULTS[Math.floor(Date.now() / crashEveryMs) % FAULTS.length]
    const timer = setTimeout(() => {
      if (fault === 'throw') throw new Error('flaky threw, as it does')
      if (fault === 'exit') process.exit(3)
      for (;;) { /* hang: only the missed heartbeats will tell */ }
    }, crashEveryMs)
    return { fault, timer }
  },
  handleCall (request, state) {
    if (request === 'next-fault') return { reply: state.fault, state }
    throw new Error(`flaky does not understand ${JSON.stringify(request)}`)
  },
  terminate (_reason, state) { clearTimeout(state.timer) },
}
