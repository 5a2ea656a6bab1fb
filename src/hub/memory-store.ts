/**
 * The embedded store: per-topic ring logs in this process, one hub-wide
 * counter, a random epoch per process (a restart is a new epoch, so ids from
 * before it are recognised and reported as a reset).
 *
 * Live delivery is synchronous inside `append()` while the events delivered
 * since the last slice stay under ~SLICE_BYTES. Past that, the rest of a burst
 * waits in one queue per store (seq order) and goes out in slices of that size,
 * up to ~TURN_BYTES per turn of the event loop (`setImmediate`), each written
 * to the kernel before the next (`process.nextTick`, after the transport's
 * uncork). A publisher that awaits only `publish()` in a loop runs in
 * microtasks: without the turns no corked socket would be written until the
 * loop ends and every subscriber, reading or not, would pass its cap.
 * `append()` still resolves at once with the id.
 */
import { SluiceError } from '../protocol/errors.js'
import { formatId, newEpoch } from './ids.js'
import { LivePacer, type Watchers } from './live-pacer.js'
import {
  DEFAULT_HISTORY,
  type AppendInput,
  type ReadResult,
  type Store,
  type StoredEvent,
  type TopicInfo,
  type WatchListener,
  type HistoryLimits,
} from './store.js'
import { TopicLog } from './topic-log.js'

/** Topics the memory store keeps by default (each at least ~420 bytes, plus its history). */
export const DEFAULT_MAX_TOPICS = 100_000

export interface MemoryStoreOptions extends HistoryLimits {
  /**
   * Topics kept (default 100,000). Past it, a new topic evicts the tenth of
   * the topics nobody watches that were appended to least recently, history
   * and all; a resume from before an eviction gets a `truncated` loss notice.
   * Watched topics are never evicted (their number is bounded by connections).
   */
  maxTopics?: number
  /** Fix the epoch (tests); default random. */
  epoch?: string
  /** Clock, for tests of age limits. */
  now?: () => number
}

export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const s = new MemoryStore(options)
  // A plain object of bound methods, as before: a store is extended by spreading
  // it (`{ ...memoryStore(), watch }`), which would drop a class's methods.
  return {
    kind: s.kind,
    epoch: s.epoch.bind(s),
    head: s.head.bind(s),
    append: s.append.bind(s),
    read: s.read.bind(s),
    watch: s.watch.bind(s),
    info: s.info.bind(s),
    expire: s.expire.bind(s),
    delete: s.delete.bind(s),
    close: s.close.bind(s),
  }
}

class MemoryStore implements Store {
  readonly kind = 'memory' as const
  private readonly maxLength: number
  private readonly maxAge: number
  private readonly now: () => number
  private readonly epochId: string
  private readonly maxTopics: number
  /** The highest seq of any evicted topic: a read from before it may have lost events. */
  private evictedSeq = 0
  private readonly logs = new Map<string, TopicLog>()
  private readonly watchers = new Map<string, Watchers>()
  private readonly pacer = new LivePacer(this.watchers)
  private seq = 0
  private closed = false

  constructor(options: MemoryStoreOptions) {
    this.maxLength = options.maxLength ?? DEFAULT_HISTORY
    this.maxAge = options.maxAge ?? Number.POSITIVE_INFINITY
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) {
      throw new SluiceError('INVALID_ARGUMENT', '`maxLength` must be a positive integer.', {
        maxLength: this.maxLength,
      })
    }
    this.maxTopics = options.maxTopics ?? DEFAULT_MAX_TOPICS
    if (!Number.isInteger(this.maxTopics) || this.maxTopics < 1) {
      throw new SluiceError('INVALID_ARGUMENT', '`maxTopics` must be a positive integer.', {
        maxTopics: this.maxTopics,
      })
    }
    this.now = options.now ?? Date.now
    this.epochId = options.epoch ?? newEpoch()
  }

  async epoch(): Promise<string> {
    return this.epochId
  }

  async head(): Promise<{ epoch: string; seq: number }> {
    return { epoch: this.epochId, seq: this.seq }
  }

  async append(topic: string, input: AppendInput): Promise<StoredEvent> {
    this.check()
    let log = this.logs.get(topic)
    if (!log) {
      if (this.logs.size >= this.maxTopics) this.evict()
      log = new TopicLog()
      this.logs.set(topic, log)
    }
    const t = this.now()
    const seq = ++this.seq
    log.touched = seq
    const epoch = this.epochId
    const id = formatId(epoch, seq)
    const event: StoredEvent =
      input.event === undefined || input.event === ''
        ? { id, epoch, seq, topic, data: input.data, time: t }
        : { id, epoch, seq, topic, event: input.event, data: input.data, time: t }
    log.entries.push(event)
    log.trim(this.maxLength, this.maxAge, t)
    const set = this.watchers.get(topic)
    if (set) this.pacer.deliver(set, event)
    return event
  }

  async read(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
    this.check()
    const t = this.now()
    const events: StoredEvent[] = []
    let truncated = false
    let sources = 0
    for (const topic of new Set(topics)) {
      const log = this.logs.get(topic)
      if (!log) {
        // Maybe evicted after the reader's position: say events may be lost.
        if (afterSeq < this.evictedSeq) truncated = true
        continue
      }
      log.trim(this.maxLength, this.maxAge, t)
      if (log.trimmedSeq > afterSeq) truncated = true
      const { entries } = log
      const from = log.firstAfter(afterSeq)
      if (from < entries.length) sources++
      for (let i = from; i < entries.length; i++) events.push(entries[i])
    }
    if (sources > 1) events.sort((a, b) => a.seq - b.seq)
    return { epoch: this.epochId, events, truncated }
  }

  async watch(topic: string, listener: WatchListener): Promise<() => void> {
    this.check()
    let set = this.watchers.get(topic)
    if (!set) {
      set = new Map()
      this.watchers.set(topic, set)
    }
    if (!set.has(listener)) set.set(listener, this.seq)
    return () => {
      const s = this.watchers.get(topic)
      if (!s) return
      s.delete(listener)
      if (s.size === 0) this.watchers.delete(topic)
    }
  }

  async info(topic: string): Promise<TopicInfo | null> {
    const log = this.logs.get(topic)
    if (!log) return null
    log.trim(this.maxLength, this.maxAge, this.now())
    return log.info()
  }

  async expire(topic: string, ttlMs: number): Promise<void> {
    const log = this.logs.get(topic)
    if (!log) return
    if (log.expireTimer) clearTimeout(log.expireTimer)
    log.expireTimer = setTimeout(() => {
      if (this.logs.get(topic) === log) this.logs.delete(topic)
    }, ttlMs)
    log.expireTimer.unref?.()
  }

  async delete(topic: string): Promise<void> {
    const log = this.logs.get(topic)
    if (log?.expireTimer) clearTimeout(log.expireTimer)
    this.logs.delete(topic)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const log of this.logs.values()) if (log.expireTimer) clearTimeout(log.expireTimer)
    this.logs.clear()
    this.watchers.clear()
    this.pacer.close()
  }

  /**
   * Make room for a new topic (issue 17 row 14: every topic ever used was
   * kept): drop the tenth of the unwatched topics appended to least recently.
   * One scan and sort per tenth: O(log n) per new topic, amortised.
   */
  private evict(): void {
    const idle: Array<[number, string]> = []
    for (const [topic, log] of this.logs)
      if (!this.watchers.has(topic)) idle.push([log.touched, topic])
    idle.sort((a, b) => a[0] - b[0])
    const n = Math.min(idle.length, Math.max(1, Math.ceil(this.maxTopics / 10)))
    for (let i = 0; i < n; i++) {
      const [touched, topic] = idle[i]
      const log = this.logs.get(topic)!
      if (log.expireTimer) clearTimeout(log.expireTimer)
      this.logs.delete(topic)
      if (touched > this.evictedSeq) this.evictedSeq = touched
    }
  }

  private check(): void {
    if (this.closed) throw new SluiceError('STORE_ERROR', 'The memory store is closed.')
  }
}
