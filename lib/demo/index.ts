/**
 * The inputs and clients of `stagewire demo`: recordings and a generator as feeds, and a process
 * of official Phoenix clients that checks what the server sends.
 */
export { Replay, scanKeys, SKIP_REASONS } from './replay.js'
export type { ReplayOptions, ReplayStats, KeyScan, KeyCount, ScanOptions, SkipReason, SkipCounts } from './replay.js'
export { FeedGenerator } from './generator.js'
export type { GeneratorOptions, KeyWeight } from './generator.js'
export { FEED_EVENT, checkSpeed } from './feed.js'
export type { FeedEvent, FeedPayload, Speed } from './feed.js'
export { FEED_TOPIC_PREFIX, feedTopic, assignTopics } from './topics.js'
export type { TopicRule } from './topics.js'
export { checkFrame } from './frame-check.js'
export type { ClientFrame, FrameVerdict } from './frame-check.js'
export { DemoClients, DEMO_CLIENTS_DEFAULTS } from './clients.js'
export type { DemoClientsOptions, DemoClientsEvents, ClientsExit } from './clients.js'
export { ClientPool } from './client-pool.js'
export type { ClientsConfig, ClientSpec, ClientsProgress, ClientsReady, ClientsSummary } from './protocol.js'
export type { LatencySummary } from './latency.js'
export { ClientsJoinError, ClientsExitedError, ClientsTimeoutError } from './errors.js'
