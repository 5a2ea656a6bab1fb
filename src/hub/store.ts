/**
 * The Store behind a hub: an append-only log per topic, with one hub-wide
 * sequence, bounded history, and live delivery.
 *
 * The same five operations serve topics (the hub) and resumable runs (a run
 * is a topic keyed by its run id that expires after it finishes):
 * append, read after an id, watch live, expire, delete.
 */

export interface StoredEvent {
  /** `<epoch>-<seq>`: what goes on the wire as the SSE `id`. */
  id: string
  epoch: string
  /** Hub-wide, strictly increasing within an epoch. */
  seq: number
  topic: string
  /** The SSE event type; absent for plain messages. */
  event?: string
  data: string
  /** Append time, ms since the Unix epoch (the store's clock). */
  time: number
}

export interface AppendInput {
  data: string
  event?: string
}

export interface ReadResult {
  /** The store's current epoch. */
  epoch: string
  /** Events after the requested seq on the requested topics, in seq order. */
  events: StoredEvent[]
  /**
   * True when some event after the requested seq on these topics is no longer
   * kept (trimmed by count or age): the replay is not complete.
   */
  truncated: boolean
}

export interface HistoryLimits {
  /** Events kept per topic (at least; Redis trims approximately). Default 1000. */
  maxLength?: number
  /** Events older than this (ms) are dropped from history. Default: no age limit. */
  maxAge?: number
}

export interface TopicInfo {
  /** Events currently kept. */
  length: number
  firstSeq: number
  lastSeq: number
  /** The highest seq dropped from this topic (0 when none). */
  trimmedSeq: number
}

export interface WatchListener {
  /** An event appended after `watch()` resolved, in seq order across all watched topics of this node. */
  onEvent(event: StoredEvent): void
  /**
   * The store was reset under a live watch (a flushed Redis). Events of the
   * new epoch follow; whatever the old epoch held is gone.
   */
  onReset?(info: { epoch: string; previousEpoch: string }): void
  /**
   * Events of this topic with seq in (`afterSeq`, `throughSeq`] were trimmed
   * from history before this node could hand them over live (it fell behind
   * by more than the history keeps): they will never arrive. Called in seq
   * order among the events. A store that never drops undelivered events
   * (the memory store) never calls it.
   */
  onGap?(info: { afterSeq: number; throughSeq: number }): void
}

export interface Store {
  readonly kind: string
  /** The current epoch. */
  epoch(): Promise<string>
  /** The current epoch and the seq of the newest event (0 when none): the position "now". */
  head(): Promise<{ epoch: string; seq: number }>
  /** Append to a topic's log; returns the stored event with its id. */
  append(topic: string, input: AppendInput): Promise<StoredEvent>
  /** Events with seq > `afterSeq` on any of `topics`, merged in seq order. `afterSeq` 0 reads all history. */
  read(topics: readonly string[], afterSeq: number): Promise<ReadResult>
  /**
   * Live delivery for one topic. When the promise resolves, every event
   * appended from then on reaches the listener exactly once, in seq order;
   * events appended before are in `read()`. A node reads each topic from its
   * backend once however many listeners watch it. Listeners may be called
   * synchronously (inside `append()`): the hub gathers what it receives in
   * one tick and writes it to each subscriber as one buffer, so handing over
   * events in groups costs nothing extra; a store that can receive large
   * bursts should still spread them over turns of the event loop (both
   * stores here hand over ~16 KiB at a time) so sockets drain in between.
   */
  watch(topic: string, listener: WatchListener): Promise<() => void>
  /** What the store holds for a topic, or null when it holds nothing. */
  info(topic: string): Promise<TopicInfo | null>
  /** Delete the topic's log after `ttlMs` (a finished run). */
  expire(topic: string, ttlMs: number): Promise<void>
  /** Delete the topic's log now. */
  delete(topic: string): Promise<void>
  close(): Promise<void>
}

export const DEFAULT_HISTORY = 1000
