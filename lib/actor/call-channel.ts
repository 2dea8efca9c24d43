/**
 * Request/reply calls into an actor (GenStage's `call`), carried by comlink
 * over a MessageChannel of their own.
 *
 * comlink gives the request/reply plumbing (ids, matching replies, proxies);
 * it is kept off the data path because each call is one round trip with no
 * batching. What comlink lacks for a supervised actor is added here: a
 * timeout, a bound on calls in flight, and a clear error for every call still
 * pending when the actor goes away (a comlink call to a dead port would wait
 * forever).
 */
import { receiveMessageOnPort } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import * as Comlink from 'comlink'
import { ActorGoneError, CallTimeoutError, InvalidArgumentError, MailboxFullError, describeThrown, fromWire } from '../errors.js'
import type { CallResult, CallTarget } from '../protocol.js'

/**
 * Node's MessagePort is already an EventTarget whose 'message' events carry
 * `.data`, which is all comlink's Endpoint needs; comlink's types name the DOM
 * MessagePort, hence the cast. (comlink's own node-adapter targets Worker
 * objects and ships only as UMD.)
 */
function endpoint (port: MessagePort): Comlink.Endpoint {
  return port as unknown as Comlink.Endpoint
}

/** Serves `target` on `port` (actor side). */
export function serveCalls (port: MessagePort, target: CallTarget): void {
  Comlink.expose(target, endpoint(port))
}

interface Pending {
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/** The caller's side of an actor's call channel (main thread). */
export class CallClient {
  readonly #port: MessagePort
  readonly #remote: Comlink.Remote<CallTarget>
  readonly #pending = new Set<Pending>()
  readonly #maxPending: number
  #goneReason: string | undefined

  /** @param maxPending calls in flight at most; past it a call fails with ERR_MAILBOX_FULL. */
  constructor (port: MessagePort, maxPending = 10_000) {
    this.#port = port
    this.#maxPending = maxPending
    this.#remote = Comlink.wrap<CallTarget>(endpoint(port))
  }

  /**
   * Sends `request` and resolves with the actor's reply.
   * @throws ERR_CALL_TIMEOUT, ERR_ACTOR_GONE, ERR_MAILBOX_FULL, or the error the actor's handler threw (rebuilt by code).
   */
  call (name: string, request: unknown, timeoutMs: number, stage?: string): Promise<unknown> {
    if (this.#goneReason !== undefined) {
      return Promise.reject(new ActorGoneError(`actor "${name}" is gone (${this.#goneReason}); the call was not sent`))
    }
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(new MailboxFullError(`actor "${name}" has ${this.#pending.size} calls in flight, the limit`))
    }
    return new Promise((resolve, reject) => {
      const entry: Pending = {
        reject,
        timer: setTimeout(() => {
          this.#pending.delete(entry)
          reject(new CallTimeoutError(`call to actor "${name}" got no reply within ${timeoutMs} ms`))
        }, timeoutMs),
      }
      this.#pending.add(entry)
      this.#remote.call(request, stage).then((result: CallResult) => {
        if (!this.#pending.delete(entry)) return // timed out or gone already
        clearTimeout(entry.timer)
        if (result.ok) resolve(result.value)
        else reject(fromWire(result.error))
      }, (err: unknown) => {
        if (!this.#pending.delete(entry)) return
        clearTimeout(entry.timer)
        // Only transport failures land here (the actor's own errors come back as CallResult): a
        // request that structured clone refuses (DataCloneError, nothing was sent), or a reply.
        reject(new InvalidArgumentError((err as { name?: unknown } | null)?.name === 'DataCloneError'
          ? `the request to actor "${name}" cannot be sent to a thread (it must be plain data): ${describeThrown(err)}`
          : `call to actor "${name}" could not be carried (replies must be plain data): ${describeThrown(err)}`))
      })
    })
  }

  /**
   * Fails every call still pending with ERR_ACTOR_GONE and closes the port. Replies the thread sent
   * before it ended may still wait in the port (the worker's exit can be seen first): they are handed
   * to comlink before anything is failed.
   */
  close (name: string, reason: string): void {
    this.#goneReason = reason
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
      this.#port.dispatchEvent(new MessageEvent('message', { data: m.message }))
    }
    // comlink settles those calls a few promise turns later: fail the others after that.
    setImmediate(() => {
      for (const entry of this.#pending) {
        clearTimeout(entry.timer)
        entry.reject(new ActorGoneError(`actor "${name}" went away (${reason}) before replying`))
      }
      this.#pending.clear()
      this.#remote[Comlink.releaseProxy]?.()
      this.#port.close()
    })
  }
}
