/**
 * From one read round to the listeners: the entries of an XREAD reply and
 * the gaps found with it, put in seq order (`plan`), then handed over in
 * slices with a turn of the event loop between them (`deliver`).
 */
import type { WatchListener } from '../store.js'
import type { RedisKeys } from './keys.js'
import { seqOf, type StreamReply, toEvent } from './replies.js'

/**
 * Bytes of events handed to the listeners per slice of an XREAD batch before
 * the loop yields to I/O: a socket's highWaterMark (16 KiB), what it takes
 * before it asks for drain, so a slice goes to the kernel in one write instead
 * of piling up in user space. With 1,000 subscribers (bench:fanout), 64 KiB
 * slices cost ~1.0 us of server CPU per delivered event against the memory
 * store's ~0.5; 16 KiB and 8 KiB match it, and 8 KiB costs the readers ~50%
 * more CPU (twice the segments).
 */
const DELIVER_SLICE_BYTES = 16 * 1024

/** A topic this node watches: its listeners and how far it has read. */
export interface Watched {
  listeners: Set<WatchListener>
  /** Last stream id delivered (or the head when watching began); null until fixed. */
  cursor: string | null
  ready: Promise<void>
}

/** A topic this node fell behind on by more than its history: see WatchListener.onGap. */
export interface Gap {
  topic: string
  w: Watched
  afterSeq: number
  throughSeq: number
}

export interface Planned {
  w: Watched
  topic: string
  /** The entry's stream id; '' for a gap. */
  id: string
  /** The entry's seq; a gap sorts right after `gap.afterSeq`. */
  seq: number
  fields: string[]
  /** Events trimmed before this node read them: (afterSeq, throughSeq]. */
  gap?: { afterSeq: number; throughSeq: number }
}

/** What delivery reads of the loop's state, live: it may change between slices. */
export interface LoopView {
  readonly closed: boolean
  readonly knownEpoch: string
  readonly watched: ReadonlyMap<string, Watched>
}

/** The topics whose trim mark is past the cursor this round read from: events trimmed unread. */
export function findGaps(
  watched: ReadonlyMap<string, Watched>,
  topics: string[],
  cursors: string[],
  marks: (string | null)[],
): Gap[] {
  const gaps: Gap[] = []
  for (let i = 0; i < topics.length; i++) {
    const mark = Number(marks[i] ?? 0)
    const w = watched.get(topics[i])
    const after = seqOf(cursors[i])
    if (w && mark > after) gaps.push({ topic: topics[i], w, afterSeq: after, throughSeq: mark })
  }
  return gaps
}

/**
 * The entries of one XREAD reply and the gaps found with it, to deliver in
 * seq order, and the cursors moved past them (so the next XREAD can go out
 * before they are delivered). A gap moves its topic's cursor past the
 * trimmed seqs: none of them exists any more. `batch` is the XREAD's COUNT.
 */
export function plan(
  reply: StreamReply,
  gaps: Gap[],
  keys: RedisKeys,
  watched: ReadonlyMap<string, Watched>,
  batch: number,
): Planned[] {
  let limit = Number.POSITIVE_INFINITY
  const all: Planned[] = []
  for (const g of gaps) {
    all.push({
      w: g.w,
      topic: g.topic,
      id: '',
      seq: g.afterSeq + 0.5,
      fields: [],
      gap: { afterSeq: g.afterSeq, throughSeq: g.throughSeq },
    })
  }
  for (const [key, entries] of reply) {
    const topic = keys.topicOf(key)
    const w = watched.get(topic)
    if (!w || entries.length === 0) continue
    // A stream cut off at COUNT may hold older events than another stream's
    // newest: deliver only up to the lowest such cut, the rest comes next read.
    if (entries.length >= batch) limit = Math.min(limit, seqOf(entries[entries.length - 1][0]))
    for (const [id, fields] of entries) all.push({ w, topic, id, seq: seqOf(id), fields })
  }
  if (reply.length > 1 || gaps.length > 0) all.sort((a, b) => a.seq - b.seq)
  let n = 0
  while (n < all.length && all[n].seq <= limit) {
    const x = all[n]
    if (x.gap === undefined) x.w.cursor = x.id
    else if (x.w.cursor !== null && seqOf(x.w.cursor) < x.gap.throughSeq)
      x.w.cursor = x.gap.throughSeq + '-0'
    n++
  }
  all.length = n
  return all
}

/**
 * Hand planned entries to the listeners in slices of ~DELIVER_SLICE_BYTES,
 * with a turn of the event loop (setImmediate) after each: the transport
 * uncorks and writes to the kernel, readers in this process read, and a
 * subscriber's buffer holds about one slice, not a whole batch, so only
 * one that does not read reaches its cap. Stops when the store closes or
 * the epoch changes; skips a topic no longer watched (or watched anew).
 */
export async function deliver(entries: Planned[], epoch: string, loop: LoopView): Promise<void> {
  let bytes = 0
  for (const x of entries) {
    if (loop.closed || epoch !== loop.knownEpoch) return
    if (loop.watched.get(x.topic) !== x.w) continue
    if (x.gap !== undefined) {
      for (const l of x.w.listeners) {
        try {
          l.onGap?.(x.gap)
        } catch {
          // one listener's failure does not stop the others
        }
      }
      continue
    }
    const event = toEvent(epoch, x.topic, x.id, x.fields)
    for (const l of x.w.listeners) {
      try {
        l.onEvent(event)
      } catch {
        // one listener's failure does not stop the others
      }
    }
    bytes += event.data.length + 64
    if (bytes >= DELIVER_SLICE_BYTES) {
      bytes = 0
      await new Promise<void>((r) => setImmediate(r))
    }
  }
}
