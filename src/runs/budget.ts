/**
 * A node's memory budget for runs, in bytes (issue 17 row 1): what the logs
 * of the runs it produced hold, running and finished ones kept for resuming,
 * plus what its followers' streams have buffered.
 *
 * A log's bytes are an estimate kept as events are appended, not a heap
 * measurement: EVENT_OVERHEAD bytes per event plus two bytes per UTF-16 unit of
 * its name and data (the simulated model's tokens, `<n>:token` and a word,
 * measured 247 B each of V8 heap in memory-store logs; the estimate says
 * ~252). Past the store's length limit (`maxEvents`) the oldest events are
 * trimmed, but a store may keep up to twice that between compactions (the
 * memory store compacts a log when its dead prefix is as long as the rest;
 * Redis trims approximately), so a log counts at most `2 * maxEvents` events
 * of its average size: an upper bound, as a budget needs.
 *
 * When the budget is reached: finished runs are dropped from the store,
 * oldest first, before their TTL; if that is not enough a new run is
 * refused (503 RUN_BUDGET with Retry-After) and a running one that appends
 * past the budget fails (`event: error` RUN_BUDGET, then `done`
 * `{"reason":"error"}`).
 */

/** Estimated bytes of one stored event besides its name and data (object, id, array slot). */
export const EVENT_OVERHEAD = 220
export const DEFAULT_RUN_MEMORY = 128 * 1024 * 1024

/** The estimated bytes of one event of a run's log. */
export function eventBytes(event: string, data: string): number {
  return EVENT_OVERHEAD + 2 * (event.length + data.length)
}

/** One run's share: events appended and their bytes; the log holds at most `maxEvents` of them. */
class RunBytes {
  count = 0
  total = 0
  /** When a finished run's log leaves the store by itself (its TTL), ms since the epoch. */
  expiresAt = Number.POSITIVE_INFINITY

  held(maxEvents: number): number {
    const kept = 2 * maxEvents
    if (this.count <= kept) return this.total
    return Math.ceil((this.total / this.count) * kept)
  }
}

export class RunBudget {
  /** Runs this node produces now. */
  private readonly running = new Map<string, RunBytes>()
  /** Finished runs still in the store, oldest finish first (the eviction order). */
  private readonly finished = new Map<string, RunBytes>()
  private logBytes = 0
  /** Runs dropped from the store before their TTL to make room. */
  evicted = 0

  constructor(
    /** The budget, bytes. */
    readonly limit: number,
    /** Events the store keeps per run (its length limit; up to twice as many are counted). */
    private readonly maxEvents: number,
    /** Bytes the followers' streams have buffered now. */
    private readonly buffered: () => number,
    /** Drop a finished run's log from the store now. */
    private readonly drop: (runId: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  private bufferedAt = Number.NEGATIVE_INFINITY
  private bufferedBytes = 0

  /** Bytes held now (logs and buffers). */
  get used(): number {
    this.expire()
    return this.logBytes + this.buffersNow()
  }

  /** Bytes held by the logs of this node's runs now (running and finished). */
  get logs(): number {
    this.expire()
    return this.logBytes
  }

  /**
   * Whether the bytes held now are under the limit, after dropping finished
   * runs (oldest first) as needed. Called on every append: the buffers' sum
   * (a walk over the followers) is taken at most every 100 ms.
   */
  room(): boolean {
    if (this.used < this.limit) return true
    for (const [runId, run] of this.finished) {
      this.finished.delete(runId)
      this.logBytes -= run.held(this.maxEvents)
      this.evicted++
      this.drop(runId)
      if (this.logBytes + this.bufferedBytes < this.limit) return true
    }
    return false
  }

  private buffersNow(): number {
    const t = this.now()
    if (t - this.bufferedAt >= 100) {
      this.bufferedAt = t
      this.bufferedBytes = this.buffered()
    }
    return this.bufferedBytes
  }

  /** A run started here. */
  start(runId: string): void {
    this.running.set(runId, new RunBytes())
  }

  /** An event appended to a run started here: its bytes are counted (even past the limit; see `room`). */
  add(runId: string, bytes: number): void {
    const run = this.running.get(runId) ?? this.finished.get(runId)
    if (!run) return
    const before = run.held(this.maxEvents)
    run.count++
    run.total += bytes
    this.logBytes += run.held(this.maxEvents) - before
  }

  /** A run ended: its log stays (for resuming) until `ttl` ms from now, or until room is needed. */
  finish(runId: string, ttl: number): void {
    const run = this.running.get(runId)
    if (!run) return
    this.running.delete(runId)
    run.expiresAt = this.now() + ttl
    this.finished.set(runId, run)
  }

  /** Forget finished runs whose TTL has passed (the store dropped them). */
  private expire(): void {
    const t = this.now()
    for (const [runId, run] of this.finished) {
      // Oldest finish first: with one TTL for all, the first live one ends the scan.
      if (run.expiresAt > t) break
      this.finished.delete(runId)
      this.logBytes -= run.held(this.maxEvents)
    }
  }
}
