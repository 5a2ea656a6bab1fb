/**
 * The embedded store: per-topic ring logs in this process, one hub-wide
 * counter, a random epoch per process (a restart is a new epoch, so ids from
 * before it are recognised and reported as a reset).
 */
import { SluiceError } from '../protocol/errors.js'
import { formatId, newEpoch } from './ids.js'
import {
  DEFAULT_HISTORY,
  type AppendInput,
  type HistoryLimits,
  type ReadResult,
  type Store,
  type StoredEvent,
  type TopicInfo,
  type WatchListener,
} from './store.js'

export interface MemoryStoreOptions extends HistoryLimits {
  /** Fix the epoch (tests); default random. */
  epoch?: string
  /** Clock, for tests of age limits. */
  now?: () => number
}

interface TopicLog {
  /** Live entries are `entries[start..]`; the dead prefix is compacted away in bulk. */
  entries: StoredEvent[]
  start: number
  /** Highest seq dropped by trimming. */
  trimmedSeq: number
  expireTimer?: ReturnType<typeof setTimeout>
}

export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const maxLength = options.maxLength ?? DEFAULT_HISTORY
  const maxAge = options.maxAge ?? Number.POSITIVE_INFINITY
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new SluiceError('INVALID_ARGUMENT', '`maxLength` must be a positive integer.', {
      maxLength,
    })
  }
  const now = options.now ?? Date.now
  const epoch = options.epoch ?? newEpoch()
  const logs = new Map<string, TopicLog>()
  const watchers = new Map<string, Set<WatchListener>>()
  let seq = 0
  let closed = false

  function trim(log: TopicLog, t: number): void {
    const { entries } = log
    let start = log.start
    const overflow = entries.length - start - maxLength
    if (overflow > 0) start += overflow
    if (maxAge !== Number.POSITIVE_INFINITY) {
      const cutoff = t - maxAge
      while (start < entries.length && entries[start].time < cutoff) start++
    }
    if (start !== log.start) {
      log.trimmedSeq = entries[start - 1].seq
      log.start = start
      // Compact when the dead prefix is as large as the live part: amortised O(1) per event.
      if (start >= 1024 && start * 2 >= entries.length) {
        log.entries = entries.slice(start)
        log.start = 0
      }
    }
  }

  function check(): void {
    if (closed) throw new SluiceError('STORE_ERROR', 'The memory store is closed.')
  }

  return {
    kind: 'memory',
    async epoch() {
      return epoch
    },

    async head() {
      return { epoch, seq }
    },

    async append(topic: string, input: AppendInput): Promise<StoredEvent> {
      check()
      let log = logs.get(topic)
      if (!log) {
        log = { entries: [], start: 0, trimmedSeq: 0 }
        logs.set(topic, log)
      }
      const t = now()
      seq += 1
      const event: StoredEvent =
        input.event === undefined || input.event === ''
          ? { id: formatId(epoch, seq), epoch, seq, topic, data: input.data, time: t }
          : {
              id: formatId(epoch, seq),
              epoch,
              seq,
              topic,
              event: input.event,
              data: input.data,
              time: t,
            }
      log.entries.push(event)
      trim(log, t)
      const set = watchers.get(topic)
      if (set) {
        for (const l of set) {
          try {
            l.onEvent(event)
          } catch {
            // A listener's failure is its own; the log and the other listeners go on.
          }
        }
      }
      return event
    },

    async read(topics: readonly string[], afterSeq: number): Promise<ReadResult> {
      check()
      const t = now()
      const events: StoredEvent[] = []
      let truncated = false
      let sources = 0
      for (const topic of new Set(topics)) {
        const log = logs.get(topic)
        if (!log) continue
        trim(log, t)
        if (log.trimmedSeq > afterSeq) truncated = true
        const { entries } = log
        // Binary search for the first seq > afterSeq.
        let lo = log.start
        let hi = entries.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (entries[mid].seq <= afterSeq) lo = mid + 1
          else hi = mid
        }
        if (lo < entries.length) sources++
        for (let i = lo; i < entries.length; i++) events.push(entries[i])
      }
      if (sources > 1) events.sort((a, b) => a.seq - b.seq)
      return { epoch, events, truncated }
    },

    async watch(topic: string, listener: WatchListener): Promise<() => void> {
      check()
      let set = watchers.get(topic)
      if (!set) {
        set = new Set()
        watchers.set(topic, set)
      }
      set.add(listener)
      return () => {
        const s = watchers.get(topic)
        if (!s) return
        s.delete(listener)
        if (s.size === 0) watchers.delete(topic)
      }
    },

    async info(topic: string): Promise<TopicInfo | null> {
      const log = logs.get(topic)
      if (!log) return null
      trim(log, now())
      const length = log.entries.length - log.start
      return {
        length,
        firstSeq: length ? log.entries[log.start].seq : 0,
        lastSeq: length ? log.entries[log.entries.length - 1].seq : 0,
        trimmedSeq: log.trimmedSeq,
      }
    },

    async expire(topic: string, ttlMs: number): Promise<void> {
      const log = logs.get(topic)
      if (!log) return
      if (log.expireTimer) clearTimeout(log.expireTimer)
      log.expireTimer = setTimeout(() => {
        if (logs.get(topic) === log) logs.delete(topic)
      }, ttlMs)
      log.expireTimer.unref?.()
    },

    async delete(topic: string): Promise<void> {
      const log = logs.get(topic)
      if (log?.expireTimer) clearTimeout(log.expireTimer)
      logs.delete(topic)
    },

    async close(): Promise<void> {
      closed = true
      for (const log of logs.values()) if (log.expireTimer) clearTimeout(log.expireTimer)
      logs.clear()
      watchers.clear()
    },
  }
}
