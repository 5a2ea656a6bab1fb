/**
 * `sluice/hub`: topics with bounded history and Last-Event-ID replay, in
 * memory by default or on Redis Streams (`sluice/hub/redis`), with JWT auth,
 * CORS and Prometheus metrics. See docs/hub.md.
 */
export { createHub } from './hub.js'
export type { Hub } from './hub.js'
export type { HubOptions, PublishOptions, SubscribeOptions, OpenedSubscription } from './hub.js'
export type { HubHandler, HubHandlerOptions } from './http.js'
export { memoryStore } from './memory-store.js'
export type { MemoryStoreOptions } from './memory-store.js'
export { redisStore } from './redis-store.js'
export type { RedisStoreOptions } from './redis-store.js'
export type {
  Store,
  StoredEvent,
  AppendInput,
  ReadResult,
  HistoryLimits,
  TopicInfo,
  WatchListener,
} from './store.js'
export { matchTopic } from './auth.js'
export type { HubAuthOptions, Authorizer, TokenSource } from './auth.js'
export type { CorsOptions } from './cors.js'
export type { HubMetrics } from './metrics.js'
export { RESET_EVENT } from './subscription.js'
export type { HubEvent, LossKind } from './subscription.js'
