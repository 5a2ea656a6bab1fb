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

/**
 * Bytes of events handed to the listeners synchronously before the rest of a
 * burst is queued, and per slice of the queue (the Redis store's slice size, a
 * socket's highWaterMark): a corked socket holds about one slice, far under
 * any subscriber's cap.
 */
const SLICE_BYTES = 16 * 1024
/**
 * Bytes per turn of the event loop, in slices each written to the kernel
 * before the next: a publisher that yields to the event loop now and then is
 * followed closely, one that never yields does not fill the sockets faster
 * than readers in this process can read them (with 128 KiB, five readers of
 * 64 KB events in the test process were cut now and then on a busy machine).
 */
const TURN_BYTES = 64 * 1024
/** Per event on top of its data: id, name and field names, roughly. */
const EVENT_OVERHEAD = 64

/** A watch: the listener and the store's seq when it joined (it gets only later events). */
type Watchers = Map<WatchListener, number>

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
  const watchers = new Map<string, Watchers>()
  let seq = 0
  let closed = false
  /** Bytes delivered in this slice (the synchronous one or a queued one). */
  let tickBytes = 0
  /** Bytes this turn may still deliver. */
  let turnLeft = 0
  /** Events of a burst past the turn's budget, in seq order, waiting for the next slice. */
  let queue: StoredEvent[] = []
  let queueHead = 0
  /** The pending setImmediate: the budget's reset, or the next slice when `queue` is not empty. */
  let turn: ReturnType<typeof setImmediate> | undefined

  /**
   * Hand one event to a topic's listeners. A listener that joined after the
   * event's append skips it (it reads it from history); false once the store
   * was closed by a listener.
   */
  function fire(set: Watchers, event: StoredEvent): boolean {
    for (const [l, since] of set) {
      if (event.seq <= since) continue
      try {
        l.onEvent(event)
      } catch {
        // A listener's failure is its own; the log and the other listeners go on.
      }
      if (closed) return false
    }
    return true
  }

  /** A new turn of the event loop: a fresh budget, and the next slices of the queue. */
  function onTurn(): void {
    turn = undefined
    turnLeft = TURN_BYTES
    slice()
  }

  /**
   * One slice of the queue (~SLICE_BYTES). The next slice of this turn runs on
   * process.nextTick, after the transport's own tick has uncorked the sockets
   * and written the slice to the kernel; after ~TURN_BYTES, or when the queue is
   * empty, a setImmediate starts the next turn (or only resets the budget).
   */
  function slice(): void {
    if (closed) return
    tickBytes = 0
    let i = queueHead
    while (i < queue.length && tickBytes < SLICE_BYTES) {
      const event = queue[i++]
      const set = watchers.get(event.topic)
      if (!set) continue
      tickBytes += event.data.length + EVENT_OVERHEAD
      if (!fire(set, event)) return
    }
    if (i >= queue.length) {
      queue = []
      queueHead = 0
      if (tickBytes > 0) turn ??= setImmediate(onTurn)
      return
    }
    queueHead = i
    turnLeft -= tickBytes
    if (queueHead >= 1024 && queueHead * 2 >= queue.length) {
      queue = queue.slice(queueHead)
      queueHead = 0
    }
    if (turnLeft > 0) process.nextTick(slice)
    else turn ??= setImmediate(onTurn)
  }

  function deliver(set: Watchers, event: StoredEvent): void {
    if (queue.length === 0 && tickBytes < SLICE_BYTES) {
      if (tickBytes === 0 && turn === undefined) turn = setImmediate(onTurn)
      tickBytes += event.data.length + EVENT_OVERHEAD
      fire(set, event)
      return
    }
    queue.push(event)
    turn ??= setImmediate(onTurn)
  }

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
      if (set) deliver(set, event)
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
        set = new Map()
        watchers.set(topic, set)
      }
      if (!set.has(listener)) set.set(listener, seq)
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
      if (turn !== undefined) clearImmediate(turn)
      turn = undefined
      queue = []
      queueHead = 0
    },
  }
}
