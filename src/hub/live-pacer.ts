/**
 * Live delivery of the memory store, paced by bytes per turn of the event
 * loop (see memory-store.ts): synchronous while a slice lasts, then a queue in
 * seq order handed out slice by slice.
 */
import type { StoredEvent, WatchListener } from './store.js'
import { cancel, later, soon, type Turn } from './turns.js'

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
export type Watchers = Map<WatchListener, number>

export class LivePacer {
  /** Bytes delivered in this slice (the synchronous one or a queued one). */
  private tickBytes = 0
  /** Bytes this turn may still deliver. */
  private turnLeft = 0
  /** Events of a burst past the turn's budget, in seq order, waiting for the next slice. */
  private queue: StoredEvent[] = []
  private queueHead = 0
  /** The pending turn: the budget's reset, or the next slice when `queue` is not empty. */
  private turn: Turn | undefined
  private closed = false
  private readonly onTurn = (): void => {
    this.turn = undefined
    this.turnLeft = TURN_BYTES
    this.slice()
  }
  private readonly nextSlice = (): void => this.slice()

  /** `watchers`: the store's listeners by topic (read at each slice). */
  constructor(private readonly watchers: Map<string, Watchers>) {}

  /** Hand `event` to `set` now, or queue it behind a burst. */
  deliver(set: Watchers, event: StoredEvent): void {
    if (this.queue.length === 0 && this.tickBytes < SLICE_BYTES) {
      if (this.tickBytes === 0 && this.turn === undefined) this.turn = later(this.onTurn)
      this.tickBytes += event.data.length + EVENT_OVERHEAD
      this.fire(set, event)
      return
    }
    this.queue.push(event)
    this.turn ??= later(this.onTurn)
  }

  /** Stop: drop the queue and the pending turn. */
  close(): void {
    this.closed = true
    if (this.turn !== undefined) cancel(this.turn)
    this.turn = undefined
    this.queue = []
    this.queueHead = 0
  }

  /**
   * Hand one event to a topic's listeners. A listener that joined after the
   * event's append skips it (it reads it from history); false once the store
   * was closed by a listener.
   */
  private fire(set: Watchers, event: StoredEvent): boolean {
    for (const [l, since] of set) {
      if (event.seq <= since) continue
      try {
        l.onEvent(event)
      } catch {
        // A listener's failure is its own; the log and the other listeners go on.
      }
      if (this.closed) return false
    }
    return true
  }

  /**
   * One slice of the queue (~SLICE_BYTES). The next slice of this turn runs on
   * process.nextTick (a microtask where there is none), after the transport's own tick has uncorked the sockets
   * and written the slice to the kernel; after ~TURN_BYTES, or when the queue is
   * empty, a setImmediate starts the next turn (or only resets the budget).
   */
  private slice(): void {
    if (this.closed) return
    this.tickBytes = 0
    const queue = this.queue
    let i = this.queueHead
    while (i < queue.length && this.tickBytes < SLICE_BYTES) {
      const event = queue[i++]
      const set = this.watchers.get(event.topic)
      if (!set) continue
      this.tickBytes += event.data.length + EVENT_OVERHEAD
      if (!this.fire(set, event)) return
    }
    if (i >= queue.length) {
      this.queue = []
      this.queueHead = 0
      if (this.tickBytes > 0) this.turn ??= later(this.onTurn)
      return
    }
    this.queueHead = i
    this.turnLeft -= this.tickBytes
    if (i >= 1024 && i * 2 >= queue.length) {
      this.queue = queue.slice(i)
      this.queueHead = 0
    }
    if (this.turnLeft > 0) soon(this.nextSlice)
    else this.turn ??= later(this.onTurn)
  }
}
