/**
 * Names → running actors.
 *
 * A supervisor registers each actor it starts under the child's id and
 * unregisters it when the thread ends, so a restarted actor is found under
 * the same name and its peers (callers, subscribed stages) reach the new
 * instance without knowing a restart happened. Listeners of `registered` are
 * how a stage resubscribes to a restarted producer.
 * @internal
 */
import { EventEmitter } from 'eventemitter3'
import { DuplicateIdError } from '../errors.js'
import type { ActorRef } from './ref.js'

interface RegistryEvents {
  registered: [name: string, actor: ActorRef]
  unregistered: [name: string, actor: ActorRef]
}

/** The runtime's name table. @internal */
export class Registry extends EventEmitter<RegistryEvents> {
  readonly #actors = new Map<string, ActorRef>()

  /** @throws ERR_DUPLICATE_ID when the name is held by another live actor. */
  register (name: string, actor: ActorRef): void {
    const current = this.#actors.get(name)
    if (current !== undefined && current !== actor) {
      throw new DuplicateIdError(`the name "${name}" is already registered`)
    }
    this.#actors.set(name, actor)
    this.emit('registered', name, actor)
  }

  /** Removes `name` if it still points at `actor` (a newer instance keeps it). */
  unregister (name: string, actor: ActorRef): void {
    if (this.#actors.get(name) !== actor) return
    this.#actors.delete(name)
    this.emit('unregistered', name, actor)
  }

  /** The actor currently registered under `name`. */
  lookup (name: string): ActorRef | undefined {
    return this.#actors.get(name)
  }

  /** Registered names. */
  names (): string[] {
    return [...this.#actors.keys()]
  }
}
