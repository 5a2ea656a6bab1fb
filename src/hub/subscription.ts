/**
 * One subscriber's view of the hub: replay from history, then live, with no
 * gap and no duplicate at the seam, and loss reported, never hidden.
 *
 * Order of operations (see `Hub.open`): the subscription first joins the
 * live feeds of its topics (live events are held back), then reads history
 * after its Last-Event-ID, writes it, then releases the held-back live
 * events, skipping those already written (seq <= last written). The store
 * guarantees that every event appended after joining arrives live, and that
 * every event appended before is in history, so the two overlap and never
 * leave a hole.
 */
import { encodeEventBytes } from '../protocol/encoder.js'
import { formatId } from './ids.js'
import type { StoredEvent } from './store.js'

/** What the hub sends on a subscription: topic events, and `sluice-reset` notices. */
export interface HubEvent {
  /** `<epoch>-<seq>`; '' on a `truncated` notice (it does not move the position). */
  id: string
  /** The topic; '' on a notice. */
  topic: string
  /** The SSE event type: '' for plain messages, `sluice-reset` for a loss notice. */
  event: string
  data: string
}

export type LossKind = 'reset' | 'truncated'

export const RESET_EVENT = 'sluice-reset'

/** Where a subscription's output goes: a wire stream (bytes) or an in-process queue. */
export interface SubscriptionOutput {
  /**
   * A topic event; `bytes` is its shared encoding (the same Uint8Array for
   * every subscriber). For replayed events a returned promise is awaited
   * before the next one, so a long replay follows the client's pace instead
   * of filling its buffer; live events are never awaited.
   */
  event(e: StoredEvent, bytes: Uint8Array, replayed: boolean): void | Promise<void>
  /**
   * Several live events at once (consecutive, in seq order), `bytes` their
   * encodings in one buffer shared by every subscriber: one write. Without
   * it, `event()` is called for each.
   */
  events?(events: readonly StoredEvent[], bytes: Uint8Array): void
  /** A loss notice (already an event). */
  notice(e: HubEvent, bytes: Uint8Array): void
  /** The starting position of a subscription opened without an id. */
  position?(id: string): void
  /** More live events arrived during the replay than `maxHeld`: end this subscriber as a slow consumer. */
  overflow(): void
  /** The hub is closing: end the output (a wire stream completes). */
  end?(): void
}

/** Live events held back during a replay before the subscriber is cut (it resumes from history). */
export const DEFAULT_MAX_HELD = 10_000
/**
 * Bytes of live events held back during a replay before the subscriber is cut,
 * when the hub sets no `maxBufferedBytes` (a subscriber's budget either way:
 * held back or buffered on its socket, it may fall this far behind).
 */
export const DEFAULT_MAX_HELD_BYTES = 1024 * 1024

export function lossNotice(
  kind: LossKind,
  lastEventId: string,
  epoch: string,
): { event: HubEvent; bytes: Uint8Array } {
  const message =
    kind === 'reset'
      ? `History was reset (the store restarted or was flushed) since ${lastEventId || 'your last event'}: events published before the reset are gone. Continuing with everything published since.`
      : `Events after ${lastEventId} are no longer in history (trimmed by count or age): some were lost. Continuing with the oldest event kept.`
  const data = JSON.stringify({ reason: kind, lastEventId, epoch, message })
  // A reset notice moves the position to the start of the new epoch, so a
  // reconnect right after it replays that epoch instead of reporting again.
  const id = kind === 'reset' ? formatId(epoch, 0) : ''
  const event: HubEvent = { id, topic: '', event: RESET_EVENT, data }
  const bytes =
    kind === 'reset'
      ? encodeEventBytes({ id, event: RESET_EVENT, data })
      : encodeEventBytes({ event: RESET_EVENT, data })
  return { event, bytes }
}

type Held =
  | { kind: 'event'; e: StoredEvent; bytes: Uint8Array }
  | { kind: 'reset'; epoch: string; previousEpoch: string }
  | { kind: 'gap'; throughSeq: number }

/** @internal One topic's live feed from the store on this node, shared by its subscribers. */
export interface Feed {
  topic: string
  subs: Set<Member>
  ready: Promise<void>
  unwatch: (() => void) | null
  dead: boolean
}

/** What a member needs of its hub: its buffer budget, and leaving a feed. */
export interface MemberHost {
  readonly options: { readonly maxBufferedBytes?: number }
  leave(feed: Feed, sub: Member): void
}

export abstract class Subscription {
  epoch = ''
  lastSeq = 0
  lastEventId = ''
  private holding = true
  /** Live events held back during the replay (created by the first one). */
  private held: Held[] | null = null
  /** Their bytes, bounded by `maxHeldBytes` (issue 17 row 2: a count alone let one subscriber hold ~62 MB). */
  private heldBytes = 0
  /** Past either bound before the output existed: cut as soon as it does. */
  private overflowed = false
  protected maxHeldBytes = DEFAULT_MAX_HELD_BYTES
  protected output: SubscriptionOutput | null = null
  closed = false

  /** The topics subscribed to. */
  abstract get topics(): readonly string[]

  /** From a topic feed: a live event, encoded once for all subscribers. */
  live(e: StoredEvent, bytes: Uint8Array): void {
    if (this.closed) return
    if (!this.holding) {
      this.emit(e, bytes, false)
      return
    }
    if (this.overflowed) return
    const held = (this.held ??= [])
    if (held.length >= DEFAULT_MAX_HELD || this.heldBytes + bytes.byteLength > this.maxHeldBytes) {
      // The replay is too slow for the live rate: cut, and let it resume from history.
      const output = this.output
      if (!output) {
        this.overflowed = true
        this.held = null
        this.heldBytes = 0
        return
      }
      this.close()
      output.overflow()
      return
    }
    this.heldBytes += bytes.byteLength
    held.push({ kind: 'event', e, bytes })
  }

  /**
   * From a topic feed: live events of one epoch in seq order, `each` their
   * encodings and `joined` all of them in one buffer. Past the replay, in the
   * subscription's epoch and all new, they go out as one write; otherwise
   * one by one through `live()` (held back, seam, epoch change).
   */
  liveBatch(events: readonly StoredEvent[], each: readonly Uint8Array[], joined: Uint8Array): void {
    if (this.closed) return
    const output = this.output
    const first = events[0]
    if (
      !this.holding &&
      output?.events !== undefined &&
      first.epoch === this.epoch &&
      first.seq > this.lastSeq
    ) {
      this.lastSeq = events[events.length - 1].seq
      output.events(events, joined)
      return
    }
    for (let i = 0; i < events.length; i++) this.live(events[i], each[i])
  }

  /**
   * From a topic feed: events in (`afterSeq`, `throughSeq`] were trimmed
   * before this node could deliver them. A `truncated` notice, unless this
   * subscriber is already past them.
   */
  gap(_afterSeq: number, throughSeq: number): void {
    if (this.closed) return
    if (this.holding) (this.held ??= []).push({ kind: 'gap', throughSeq })
    else this.onGap(throughSeq)
  }

  /** From a topic feed: the store was reset under us. */
  reset(epoch: string, previousEpoch: string): void {
    if (this.closed) return
    if (this.holding) (this.held ??= []).push({ kind: 'reset', epoch, previousEpoch })
    else this.onReset(epoch)
  }

  /**
   * Start output: the position (epoch, seq) replay begins after, an optional
   * loss notice, the replayed events; then release the held live events.
   */
  async start(
    output: SubscriptionOutput,
    position: { epoch: string; seq: number },
    notice: LossKind | null,
    replay: readonly StoredEvent[],
    announce = false,
  ): Promise<number> {
    this.output = output
    if (this.overflowed) {
      this.close()
      output.overflow()
      return 0
    }
    this.epoch = position.epoch
    this.lastSeq = position.seq
    // Tell a fresh subscriber where it stands (an id-only block dispatches no
    // event but sets EventSource's lastEventId), so a reconnect resumes here.
    if (announce) output.position?.(formatId(position.epoch, position.seq))
    if (notice) {
      const n = lossNotice(notice, this.lastEventId, position.epoch)
      output.notice(n.event, n.bytes)
    }
    let replayed = 0
    for (const e of replay) {
      if (this.closed) return replayed
      if (e.epoch !== this.epoch || e.seq <= this.lastSeq) continue
      this.lastSeq = e.seq
      const paced = output.event(e, encodeEventBytes(toInit(e)), true)
      if (paced) await paced
      replayed++
    }
    // Release what arrived live meanwhile (in seq order, as the store delivered it).
    this.holding = false
    const held = this.held
    this.held = null
    this.heldBytes = 0
    if (held)
      for (const h of held) {
        if (this.closed) break
        if (h.kind === 'event') this.emit(h.e, h.bytes, false)
        else if (h.kind === 'gap') this.onGap(h.throughSeq)
        else this.onReset(h.epoch)
      }
    return replayed
  }

  close(): void {
    this.closed = true
    this.held = null
    this.heldBytes = 0
  }

  private emit(e: StoredEvent, bytes: Uint8Array, replayed: boolean): void {
    // An event of a newer epoch without a reset first: the store changed under us.
    if (e.epoch !== this.epoch) this.onReset(e.epoch)
    if (e.seq <= this.lastSeq) return // already sent from history: the seam
    this.lastSeq = e.seq
    this.output!.event(e, bytes, replayed)
  }

  private onGap(throughSeq: number): void {
    if (this.lastSeq >= throughSeq) return // already past the trimmed events (from history)
    const n = lossNotice('truncated', formatId(this.epoch, this.lastSeq), this.epoch)
    this.output!.notice(n.event, n.bytes)
  }

  private onReset(epoch: string): void {
    if (epoch === this.epoch) return // one notice per reset, however many topics report it
    const previous = this.lastSeq > 0 ? formatId(this.epoch, this.lastSeq) : this.lastEventId
    this.epoch = epoch
    this.lastSeq = 0
    const n = lossNotice('reset', previous, epoch)
    this.output!.notice(n.event, n.bytes)
  }
}

export function toInit(e: StoredEvent): { id: string; event?: string; data: string } {
  return e.event === undefined
    ? { id: e.id, data: e.data }
    : { id: e.id, event: e.event, data: e.data }
}

/**
 * @internal A subscription as the hub holds it: the subscription and its
 * place in the topic feeds, in one object per subscriber. No closure stays
 * alive per connection: the feeds hold this object, `close()` is a method,
 * and `hub.close()` finds every subscriber through the feeds (measured with
 * bench/fanout's idle scenario: closures and their contexts were most of what
 * a hub connection cost beyond the raw node:http loop's). The HTTP side
 * extends it so the same object is also the subscription's output.
 */
export class Member<H extends MemberHost = MemberHost> extends Subscription {
  /** The feeds joined: one (the usual case, no array) or several. */
  private feeds: Feed | Feed[] | null = null

  constructor(protected readonly hub: H) {
    super()
    const max = hub.options.maxBufferedBytes
    if (max !== undefined) this.maxHeldBytes = max
  }

  /** The topics, read from the feeds joined (an array per subscriber would be 56 bytes more). */
  get topics(): readonly string[] {
    return this.feedList().map((f) => f.topic)
  }

  /** @internal Called by `Hub.join`. */
  joined(feed: Feed): void {
    const feeds = this.feeds
    if (feeds === null) this.feeds = feed
    else if (Array.isArray(feeds)) feeds.push(feed)
    else this.feeds = [feeds, feed]
  }

  /** @internal The feeds joined so far (to wait for them to be ready). */
  feedList(): Feed[] {
    const feeds = this.feeds
    return feeds === null ? [] : Array.isArray(feeds) ? feeds : [feeds]
  }

  /** Leave the topic feeds. Idempotent. */
  override close(): void {
    if (this.closed) return
    super.close()
    const feeds = this.feeds
    if (feeds !== null) {
      if (Array.isArray(feeds)) for (const feed of feeds) this.hub.leave(feed, this)
      else this.hub.leave(feeds, this)
    }
  }

  /** The hub is closing: leave, and end the output (a wire stream completes). */
  hubClosing(): void {
    const output = this.output
    this.close()
    output?.end?.()
  }

  override start(
    output: SubscriptionOutput,
    position: { epoch: string; seq: number },
    notice: LossKind | null,
    replay: readonly StoredEvent[],
    announce = false,
  ): Promise<number> {
    // Closed before its output existed (the hub closed meanwhile): end the output now.
    if (this.closed) {
      output.end?.()
      return Promise.resolve(0)
    }
    return super.start(output, position, notice, replay, announce)
  }
}
