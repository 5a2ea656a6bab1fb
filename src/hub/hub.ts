/**
 * `createHub()`: topics with bounded history and Last-Event-ID replay over a
 * Store (memory by default, Redis Streams to run several nodes as one hub).
 *
 * Fan-out: this node joins each topic's live feed from the store once, however
 * many subscribers watch it; an event is encoded once (`encodeEventBytes`) and
 * the same bytes go to every subscriber. The events a store hands over in one
 * tick are gathered (in store order, up to ~BATCH_BYTES) and go to each
 * subscriber as one buffer, one write: a burst of 100 events costs a
 * subscriber one write instead of 100. Writes never wait for a subscriber:
 * each one has its own bounded buffer and is cut when it passes it.
 */
import { encodeEventBytes } from '../protocol/encoder.js'
import { SluiceError } from '../protocol/errors.js'
import { type Authorizer, checkAuthOptions, createAuthorizer } from './auth.js'
import {
  checkTopic,
  type HubCore,
  type HubOptions,
  type OpenedSubscription,
  type PublishOptions,
  type SubscribeOptions,
} from './contract.js'
import { hubHandler, type HubHandler, type HubHandlerOptions } from './http.js'
import { formatId, parseId } from './ids.js'
import { memoryStore } from './memory-store.js'
import { LocalSubscription } from './local-subscription.js'
import { HubMetrics } from './metrics.js'
import type { Store, StoredEvent } from './store.js'
import { type Feed, Member, toInit, type HubEvent } from './subscription.js'
import { soon } from './turns.js'

export { checkTopic }
export type { HubOptions, OpenedSubscription, PublishOptions, SubscribeOptions }

/**
 * Live events gathered before they are handed to the subscribers at once
 * (at the end of the tick, or as soon as this many bytes are waiting): a
 * socket's high-water mark, what the stores hand over per slice.
 */
const BATCH_BYTES = 16 * 1024
/** Per event on top of its data when counting BATCH_BYTES: id, name and field names, roughly. */
const EVENT_OVERHEAD = 64

/** Live events of one feed, consecutive in store order, of one epoch. */
interface LiveBatch {
  feed: Feed
  events: StoredEvent[]
}

/** Per-event encodings of a batch, and all of them in one buffer (the same for every subscriber). */
function encodeBatch(events: readonly StoredEvent[]): { each: Uint8Array[]; joined: Uint8Array } {
  const each = events.map((e) => encodeEventBytes(toInit(e)))
  if (each.length === 1) return { each, joined: each[0] }
  let size = 0
  for (const b of each) size += b.byteLength
  const joined = new Uint8Array(size)
  let at = 0
  for (const b of each) {
    joined.set(b, at)
    at += b.byteLength
  }
  return { each, joined }
}

/** JSON text of published data; cyclic or too deeply nested data is a 400, not a crash. */
function jsonOf(data: unknown): string | undefined {
  try {
    return JSON.stringify(data)
  } catch (cause) {
    throw new SluiceError(
      'BAD_REQUEST',
      `\`data\` cannot be sent as JSON (${cause instanceof RangeError ? 'nested too deeply' : 'it contains a cycle'}).`,
      {},
      { cause },
    )
  }
}

export class Hub implements HubCore {
  readonly store: Store
  readonly metrics = new HubMetrics()
  readonly options: Readonly<HubOptions>
  /** Resolves to the JWT checker (importing a PEM key is async). */
  readonly authorizer: Promise<Authorizer>
  private readonly feeds = new Map<string, Feed>()
  /** Live events not yet handed to subscribers, in store order (see BATCH_BYTES). */
  private batches: LiveBatch[] = []
  private batchBytes = 0
  private flushScheduled = false
  private readonly closers = new Set<() => void>()
  private closed = false
  /** The last epoch seen by open() (see sameEpoch). */
  private epoch = ''

  constructor(options: HubOptions = {}) {
    this.options = options
    this.store = options.store ?? memoryStore()
    // An `auth` without a usable key throws here, not as an open hub.
    checkAuthOptions(options.auth)
    this.authorizer = createAuthorizer(options.auth)
    // Surface a bad key at the first request, not as an unhandled rejection now.
    this.authorizer.catch(() => {})
  }

  /**
   * The id of "now": resuming from it yields exactly the events published
   * after this call. A new subscription without Last-Event-ID starts here and
   * is told this id first, so even a cut before its first event loses nothing.
   */
  async position(): Promise<string> {
    const h = await this.store.head()
    return formatId(h.epoch, h.seq)
  }

  /** Append an event to a topic; resolves with its id. Objects are sent as JSON. */
  async publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<string> {
    checkTopic(topic)
    const text = typeof data === 'string' ? data : jsonOf(data)
    if (text === undefined) {
      throw new SluiceError('BAD_REQUEST', '`data` has no JSON form (undefined or a function).')
    }
    const event = options.event
    if (event !== undefined && (typeof event !== 'string' || /[\r\n]/.test(event))) {
      throw new SluiceError('BAD_REQUEST', '`event` must be a string without CR or LF.')
    }
    if (event?.startsWith('sluice-')) {
      throw new SluiceError(
        'BAD_REQUEST',
        '`event` names starting with sluice- are reserved for the hub and runs (sluice-reset, sluice-truncated...).',
        { event },
      )
    }
    const stored = await this.store.append(topic, event ? { data: text, event } : { data: text })
    this.metrics.published++
    return stored.id
  }

  /**
   * Join the topics' live feeds, read history after `lastEventId`, and return
   * a subscription ready to start. Nothing is written until `start()`; live
   * events are held back meanwhile.
   */
  async open(
    topics: readonly string[],
    lastEventId = '',
    /** @internal The subscriber object to use (the HTTP side passes its own). */
    member?: Member,
  ): Promise<OpenedSubscription> {
    if (this.closed) throw new SluiceError('STREAM_CLOSED', 'The hub is closed.')
    const unique = [...new Set(topics.map(checkTopic))]
    const max = this.options.maxTopics ?? 64
    if (unique.length === 0 || unique.length > max) {
      throw new SluiceError(
        'BAD_REQUEST',
        `Subscribe to 1-${max} topics: /events?topic=a&topic=b.`,
        { count: unique.length },
      )
    }
    const sub = member ?? new Member(this)
    sub.lastEventId = lastEventId
    const close = (): void => sub.close()
    try {
      // Without an id the subscriber starts "now": the head before joining.
      // Everything after it is then either live (after joining) or in
      // history (read after joining), so nothing falls between the two.
      const head = lastEventId ? null : await this.store.head()
      for (const topic of unique) this.join(topic, sub)
      // Closed while the head was read: hub.close() found no feed holding this subscriber.
      if (this.closed) throw new SluiceError('STREAM_CLOSED', 'The hub is closed.')
      await Promise.all(sub.feedList().map((f) => f.ready))
      let history: OpenedSubscription['history'] = null
      let position: { epoch: string; seq: number }
      let replay: StoredEvent[] = []
      if (lastEventId) {
        const now = await this.store.head()
        const epoch = now.epoch
        // An id this epoch never issued (ahead of the head) is as unknown as
        // one from another epoch: honouring it would skip events silently.
        const parsed = parseId(lastEventId)
        const known = parsed !== null && parsed.epoch === epoch && parsed.seq <= now.seq
        let after = known ? parsed.seq : 0
        let read = await this.store.read(unique, after)
        if (read.epoch !== epoch) {
          after = 0
          read = await this.store.read(unique, 0)
        }
        if (!known || parsed.epoch !== read.epoch) history = 'reset'
        else history = read.truncated ? 'truncated' : 'complete'
        position = { epoch: this.sameEpoch(read.epoch), seq: after }
        replay = read.events
      } else {
        let read = await this.store.read(unique, head!.seq)
        position = { epoch: this.sameEpoch(read.epoch), seq: head!.seq }
        if (read.epoch !== head!.epoch) {
          read = await this.store.read(unique, 0)
          position = { epoch: this.sameEpoch(read.epoch), seq: 0 }
        }
        replay = read.events
      }
      const notice = history === 'reset' || history === 'truncated' ? history : null
      const metrics = this.metrics
      // Nothing of this object stays alive with the subscriber once started:
      // the feeds and the hub hold `sub` only, so `replay` is garbage after it
      // has been written (test/hub/subscriber-memory.test.ts).
      return {
        sub,
        history,
        close,
        start: (output) => {
          if (notice) metrics.historyNotices[notice]++
          sub.start(output, position, notice, replay, !lastEventId).then(
            (replayed) => {
              metrics.replayed += replayed
            },
            () => sub.close(),
          )
          replay = []
        },
      }
    } catch (err) {
      sub.close()
      throw err
    }
  }

  /**
   * An in-process subscription: an async iterable of events (and
   * `sluice-reset` notices), ended by `signal`.
   */
  subscribe(
    topics: string | readonly string[],
    options: SubscribeOptions = {},
  ): AsyncIterable<HubEvent> {
    const list = typeof topics === 'string' ? [topics] : topics
    return { [Symbol.asyncIterator]: () => new LocalSubscription(this, list, options) }
  }

  /**
   * The HTTP side: `GET /events`, `POST /publish`, `GET /metrics`, for
   * node:http (`createServer(hub.handler())`, Express) and Web
   * `Request`/`Response` (`hub.handler()(request)`: Hono, Bun, Deno).
   */
  handler(options: HubHandlerOptions = {}): HubHandler {
    return hubHandler(this, options)
  }

  /** @internal Run `fn` when the hub closes (the HTTP side ends its streams); returns an unregister. */
  onClose(fn: () => void): () => void {
    this.closers.add(fn)
    return () => this.closers.delete(fn)
  }

  /** End every subscription (wire streams complete) and close the store. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // Events the store has handed over go out before the streams end.
    this.flushLive()
    // Every subscriber is in the feed of each of its topics.
    const members = new Set<Member>()
    for (const feed of this.feeds.values()) for (const m of feed.subs) members.add(m)
    for (const m of members) m.hubClosing()
    for (const close of [...this.closers]) close()
    await this.store.close()
  }

  private join(topic: string, sub: Member): Feed {
    let feed = this.feeds.get(topic)
    if (!feed || feed.dead) {
      const f: Feed = {
        topic,
        subs: new Set(),
        unwatch: null,
        dead: false,
        ready: Promise.resolve(),
      }
      f.ready = this.store
        .watch(topic, {
          onEvent: (e) => {
            if (f.subs.size > 0) this.gather(f, e)
          },
          onReset: (info) => {
            // Events handed over before the reset go out before its notice.
            this.flushLive()
            for (const s of f.subs) s.reset(info.epoch, info.previousEpoch)
          },
          onGap: (info) => {
            this.flushLive()
            for (const s of f.subs) s.gap(info.afterSeq, info.throughSeq)
          },
        })
        .then((unwatch) => {
          f.unwatch = unwatch
          if (f.subs.size === 0) this.drop(f)
        })
      f.ready.catch(() => this.drop(f))
      this.feeds.set(topic, f)
      this.metrics.topicsWatched = this.feeds.size
      feed = f
    }
    feed.subs.add(sub)
    sub.joined(feed)
    return feed
  }

  /**
   * A live event from a feed: joins the last batch when it continues it
   * (same feed, same epoch), else starts one. The batches go out at the end
   * of the tick, or now once BATCH_BYTES are waiting.
   */
  private gather(feed: Feed, e: StoredEvent): void {
    const batches = this.batches
    const last = batches.length > 0 ? batches[batches.length - 1] : undefined
    if (last !== undefined && last.feed === feed && last.events[0].epoch === e.epoch) {
      last.events.push(e)
    } else {
      batches.push({ feed, events: [e] })
    }
    this.batchBytes += e.data.length + EVENT_OVERHEAD
    if (this.batchBytes >= BATCH_BYTES) this.flushLive()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      soon(this.flushScheduledBatches)
    }
  }

  private readonly flushScheduledBatches = (): void => {
    this.flushScheduled = false
    this.flushLive()
  }

  /**
   * Hand the gathered batches to their feeds' subscribers, in store order: a
   * subscriber of several topics gets every event in seq order.
   */
  private flushLive(): void {
    const batches = this.batches
    if (batches.length === 0) return
    this.batches = []
    this.batchBytes = 0
    for (const { feed, events } of batches) {
      if (feed.subs.size === 0) continue
      const { each, joined } = encodeBatch(events)
      for (const s of feed.subs) s.liveBatch(events, each, joined)
    }
  }

  /**
   * The epoch as one string for every subscriber: a store over the network
   * (Redis) parses a new copy per read, which each subscriber would keep.
   */
  private sameEpoch(epoch: string): string {
    if (epoch === this.epoch) return this.epoch
    this.epoch = epoch
    return epoch
  }

  /** @internal */
  leave(feed: Feed, sub: Member): void {
    feed.subs.delete(sub)
    if (feed.subs.size === 0 && feed.unwatch) this.drop(feed)
  }

  private drop(feed: Feed): void {
    if (feed.dead) return
    feed.dead = true
    feed.unwatch?.()
    if (this.feeds.get(feed.topic) === feed) this.feeds.delete(feed.topic)
    this.metrics.topicsWatched = this.feeds.size
  }
}

export function createHub(options: HubOptions = {}): Hub {
  return new Hub(options)
}
