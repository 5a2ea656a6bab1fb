/**
 * The hub as its parts see it: its options, what opening a subscription
 * gives, the topic rule, and `HubCore`, what the HTTP side (http.ts) uses of
 * a hub. Types and one check only, so that hub.ts, http.ts and
 * subscription.ts depend on this and not on each other (no cycle).
 */
import { SluiceError } from '../protocol/errors.js'
import type { Authorizer, HubAuthOptions } from './auth.js'
import type { CorsOptions } from './cors.js'
import type { HubMetrics } from './metrics.js'
import type { Store } from './store.js'
import type {
  LossKind,
  Member,
  MemberHost,
  Subscription,
  SubscriptionOutput,
} from './subscription.js'

export interface HubOptions {
  /** Where events live. Default `memoryStore()` (history 1000 per topic). */
  store?: Store
  /**
   * JWT rules. Without this option the hub is open (anyone may publish and
   * subscribe); with it, a key is required: `createHub` throws `INVALID_ARGUMENT`
   * for an `auth` whose `secret` is unset or empty and that has no `publicKey`.
   */
  auth?: HubAuthOptions
  /** Allowed browser origins for cross-origin subscribe and publish. */
  cors?: CorsOptions
  /** Bytes a subscriber may fall behind before it is disconnected (default 1 MiB). */
  maxBufferedBytes?: number
  /** Heartbeat comment interval in ms (default 5 000; 0 disables). */
  heartbeat?: number
  /** Reconnection delay sent to clients (`retry:`), ms. Default 1000. */
  retry?: number
  /** Largest `POST /publish` body, bytes (default 64 KiB). */
  maxBodyBytes?: number
  /** Most topics in one subscription (default 64). */
  maxTopics?: number
}

export interface PublishOptions {
  event?: string
}

export interface SubscribeOptions {
  /** Resume after this id: replay what was missed, then live. */
  lastEventId?: string
  signal?: AbortSignal
  /** Events an in-process subscriber may fall behind before it is ended with SLOW_CONSUMER (default 10 000). */
  maxQueue?: number
}

/** The outcome of opening a subscription, before any byte is written. */
export interface OpenedSubscription {
  sub: Subscription
  /** `complete`, `truncated` or `reset` when a Last-Event-ID was given; null otherwise. */
  history: 'complete' | LossKind | null
  /** Start the output: writes the loss notice, the replay, then live events. */
  start(output: SubscriptionOutput): void
  /** Leave the topic feeds. Idempotent. */
  close(): void
}

const MAX_TOPIC_LENGTH = 256

/** A topic is 1-256 characters without control characters. */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new SluiceError(
      'BAD_REQUEST',
      `A topic must be a non-empty string of at most ${MAX_TOPIC_LENGTH} characters.`,
    )
  }
  if (/[\u0000-\u001f\u007f]/.test(topic)) {
    throw new SluiceError('BAD_REQUEST', 'A topic may not contain control characters.', { topic })
  }
  return topic
}

/** What the HTTP side uses of a hub (the Hub class is one). */
export interface HubCore extends MemberHost {
  readonly options: Readonly<HubOptions>
  readonly store: Store
  readonly metrics: HubMetrics
  readonly authorizer: Promise<Authorizer>
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<string>
  open(topics: readonly string[], lastEventId: string, member?: Member): Promise<OpenedSubscription>
  onClose(fn: () => void): () => void
}
