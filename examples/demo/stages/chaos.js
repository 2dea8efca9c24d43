// What `stagewire demo --chaos` asks a stage to do, through runtime.call(stage, { chaos }).
// Each way out is one a real stage can take: an uncaught throw, process.exit(), or an infinite
// loop (which only the supervisor's missed-heartbeat check can end). The call returns first, so
// the crash happens in the stage's own time, as a real one would.

/** Handles `{ chaos: 'throw' | 'exit' | 'hang' }`; returns undefined for any other request. */
export function chaos (request) {
  const how = request !== null && typeof request === 'object' ? request.chaos : undefined
  switch (how) {
    case 'throw':
      setTimeout(() => { throw new Error('chaos: thrown on purpose') }, 1)
      return 'throwing'
    case 'exit':
      setTimeout(() => process.exit(7), 1)
      return 'exiting'
    case 'hang':
      setTimeout(() => { for (;;) { /* hang until the supervisor terminates the thread */ } }, 1)
      return 'hanging'
    default:
      return undefined
  }
}
