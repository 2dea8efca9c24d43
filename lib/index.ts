/**
 * stagewire's public surface. Everything not exported here is internal.
 */
export { start, Runtime, ROOT } from './runtime.js'
export type { StartOptions, CallOptions, CloseOptions, BroadcastOptions, EndpointAddress } from './runtime.js'
export type { BroadcasterRequest, BroadcasterStats } from './builtins/broadcaster.js'
export type { HealthStatus, RuntimeHealth, BroadcasterHealth, LocalPubSubHealth } from './cluster/health.js'
export type { PubSubStats } from './cluster/redis-pubsub.js'
export type { StreamQueueSettings } from './queue/stream-spec.js'
export type { StreamSourceStats } from './queue/stream-source.js'
export type { DurableStats } from './queue/stream-acker.js'
export { defineActor } from './actor/behaviour.js'
export type { ActorModule, ActorContext, CallReply, ExitReason } from './actor/behaviour.js'
export { parseTreeSpec, loadTreeSpecFile, DEFAULTS } from './supervisor/spec.js'
export type {
  TreeSpec, ChildSpec, WorkerChildSpec, SupervisorChildSpec, DynamicSupervisorChildSpec, Strategy, RestartType, ShutdownSpec,
} from './supervisor/spec.js'
export type { ChildInfo, ChildStatus } from './supervisor/supervisor.js'
export { defineProducer, defineProducerConsumer, defineConsumer, defineConsumerSupervisor } from './stage/behaviour.js'
export type {
  StageModule, ProducerModule, ProducerConsumerModule, ConsumerModule, ConsumerSupervisorModule, StageContext, StageKind,
  From, Emit, Consume, StageCallReply,
} from './stage/behaviour.js'
export type { Envelope } from './stage/envelope.js'
export type { StageInfo } from './stage/wiring.js'
export type { PushMeta } from './stage/push.js'
export type { StageSpec, SubscriptionSpec } from './supervisor/spec.js'
export { signToken, verifyToken } from './channels/token.js'
export type { TokenSecret, SignTokenOptions, VerifyTokenOptions } from './channels/token.js'
export { Endpoint, ENDPOINT_DEFAULTS } from './channels/endpoint.js'
export type { EndpointOptions, EndpointCloseOptions } from './channels/endpoint.js'
export { defineChannel } from './channels/behaviour.js'
export type {
  ChannelModule, ChannelSocket, Assigns, JoinResult, JoinOk, JoinRefused, Reply, HandleInResult, TerminateReason,
} from './channels/behaviour.js'
export { CLOSE_CODES, DISCONNECT_REASONS } from './channels/events.js'
export type {
  EndpointEvents, EndpointStats, EndpointDrops, ConnectionInfo, DisconnectReason, SocketConnectedEvent, SocketRefusedEvent,
  SocketClosedEvent, ChannelJoinedEvent, ChannelRefusedEvent, ChannelClosedEvent, ChannelCrashedEvent, FrameInvalidEvent,
} from './channels/events.js'
export { REPLY_REASONS } from './channels/connection.js'
export type { OutboundPolicy } from './channels/outbound.js'
export type { ActorStats } from './protocol.js'
export type { RuntimeMetrics, StageMetrics } from './metrics/aggregate.js'
export type { LatencySummary } from './metrics/latency.js'
export { LATENCY_BUCKETS } from './metrics/prometheus.js'
export type * from './telemetry.js'
export * from './errors.js'
