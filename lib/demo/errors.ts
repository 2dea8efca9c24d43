/**
 * The demo clients' errors, with stable codes. (They live here rather than in lib/errors.ts
 * because they concern the demo only; they extend the same base class.)
 */
import { StagewireError, fromWire } from '../errors.js'
import type { WireError } from '../errors.js'

/** Some client could not join one of its topics: refused, or no reply within the join timeout. */
export class ClientsJoinError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_CLIENTS_JOIN')
    this.name = 'ClientsJoinError'
  }
}

/** The clients process ended without being asked to (a crash, a kill, a failed start). */
export class ClientsExitedError extends StagewireError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_CLIENTS_EXITED', options)
    this.name = 'ClientsExitedError'
  }
}

/** The clients process did not answer `start`, `report` or `stop` in time. */
export class ClientsTimeoutError extends StagewireError {
  constructor (message: string) {
    super(message, 'ERR_CLIENTS_TIMEOUT')
    this.name = 'ClientsTimeoutError'
  }
}

/** Rebuilds an error sent by the clients process: a demo code gives back its class, anything else goes to `fromWire`. */
export function demoErrorFromWire (wire: WireError): Error {
  let err: Error
  switch (wire.code) {
    case 'ERR_CLIENTS_JOIN': err = new ClientsJoinError(wire.message); break
    case 'ERR_CLIENTS_EXITED': err = new ClientsExitedError(wire.message); break
    case 'ERR_CLIENTS_TIMEOUT': err = new ClientsTimeoutError(wire.message); break
    default: return fromWire(wire)
  }
  if (wire.stack !== undefined) err.stack = wire.stack
  return err
}
