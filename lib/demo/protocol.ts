/**
 * The messages between the demo's main process and its clients process (IPC of a forked child).
 *
 * ```
 *   main process (DemoClients, lib/demo/clients.ts)     clients process (workers/demo-clients.ts)
 *   ───────────────────────────────────────────────     ──────────────────────────────────────────
 *   fork(entry)  start{config}                       ─►  N official phoenix clients connect and join
 *                                                    ◄─  ready{ready}           every client joined all its topics
 *                                                    ◄─  failed{error}          a join was refused or timed out; exit 1
 *                                                    ◄─  progress{progress}     every progressMs, from ready on
 *   report{ref, atLeast, waitMs}                     ─►  wait until delivered >= atLeast, at most waitMs
 *                                                    ◄─  summary{ref, final: false, summary}
 *   stop                                             ─►  stop counting, disconnect every client
 *                                                    ◄─  summary{ref: null, final: true, summary}, then exit 0
 *                                                    ◄─  crash{error, origin}   an uncaught throw or rejection; exit 1
 *   (parent gone: IPC disconnect)                    ─►  disconnect every client, exit 0
 * ```
 *
 * Rules: each side handles messages with an exhaustive `switch` on `type`, whose default is a
 * protocol error; errors travel as {@link WireError}; after `summary` with `final`, `failed` or
 * `crash` the clients process sends nothing more. Tokens travel in `start`, not on the command
 * line, where other users of the machine could read them.
 */
import type { WireError } from '../errors.js'
import type { LatencySummary } from './latency.js'

/** One client: its connect token and the topics it joins. */
export interface ClientSpec {
  token: string
  topics: string[]
}

/** Everything the clients process needs, sent in `start`. */
export interface ClientsConfig {
  /** The endpoint's socket URL, absolute, naming the mount path only: `ws://127.0.0.1:4000/socket`. */
  url: string
  clients: ClientSpec[]
  /** How long a join may take before the start fails (ms). */
  joinTimeoutMs: number
  /** Ids remembered per client and topic for the duplicate check. */
  dedupWindow: number
  /**
   * This server's origin tag (the demo's payloads carry theirs): a delivery of another origin was
   * pushed on another server and reached this one through the cluster adapter; it is counted as
   * `remoteDelivered`, not `delivered`. Unset: every delivery is local.
   */
  origin?: string
  /** How often progress is reported (ms); 0: never. */
  progressMs: number
}

/** Sent once every client has joined every one of its topics. */
export interface ClientsReady {
  clients: number
  /** Joins that succeeded (client × topic). */
  joined: number
  /** Per topic, how many clients joined it: with the broadcasts per topic, what `delivered` should reach. */
  subscribers: Record<string, number>
  /** ms from `start` to the last join. */
  joinMs: number
}

/** The running counts, for a live line. */
export interface ClientsProgress {
  delivered: number
  /** Deliveries of events pushed on other servers (see ClientsConfig.origin). */
  remoteDelivered: number
  misrouted: number
  duplicates: number
  invalid: number
  errors: number
  /** Push-to-receipt latency so far, in ms (null before the first delivery). */
  p50: number | null
  p99: number | null
}

/** Everything the clients saw: frames of a topic count from the moment its client asks to join it, until `stop`. */
export interface ClientsSummary {
  clients: number
  joined: number
  /** Frames on a joined topic carrying that topic's key (duplicates included), of events pushed on this server. */
  delivered: number
  /** The same, of events pushed on other servers (see ClientsConfig.origin). */
  remoteDelivered: number
  /** `delivered` per topic, over all clients. */
  perTopic: Record<string, number>
  /** Broadcast frames of a topic the client did not join, or whose payload's key is not the topic's. */
  misrouted: number
  misroutedBy: { not_joined: number, key_mismatch: number }
  /** Deliveries of an id the same client already had on the same topic (within the dedup window). */
  duplicates: number
  /** Broadcast frames on a joined topic whose payload is not `{ id, ts, key, data }`. */
  invalid: number
  /** Push-to-receipt latency of every delivery, in ms. */
  latency: LatencySummary
  /** Socket errors, channel errors (`phx_error`) and failed rejoins. */
  errors: number
  /** Connections the server closed or lost after ready (each client reconnects and rejoins on its own). */
  disconnects: number
  /** The first few misroutes, invalid frames and errors, described (at most 10). */
  samples: string[]
}

/** Main process → clients process. */
export type ToClients =
  | { type: 'start', config: ClientsConfig }
  | { type: 'report', ref: number, atLeast: number, waitMs: number }
  | { type: 'stop' }

/** Clients process → main process. */
export type FromClients =
  | { type: 'ready', ready: ClientsReady }
  | { type: 'failed', error: WireError }
  | { type: 'progress', progress: ClientsProgress }
  | { type: 'summary', ref: number | null, final: boolean, summary: ClientsSummary }
  | { type: 'crash', error: WireError, origin: 'uncaughtException' | 'unhandledRejection' }
