// A well-behaved actor: counts ticks and answers `runtime.call('clock', 'ticks')`.
export default {
  init ({ tickMs = 100 } = {}) {
    const state = { ticks: 0, timer: undefined }
    state.timer = setInterval(() => { state.ticks++ }, tickMs)
    return state
  },
  handleCall (request, state) {
    if (request === 'ticks') return { reply: state.ticks, state }
    throw new Error(`clock does not understand ${JSON.stringify(request)}`)
  },
  terminate (_reason, state) { clearInterval(state.timer) },
  stats: (state) => ({ ticks: state.ticks }),
}
