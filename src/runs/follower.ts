/**
 * The following side of a run: replay the log after the client's id, then
 * follow it live up to and including its first terminal event, on any node.
 *
 * Opening joins the store's live feed first and reads the log second: every
 * event is in one or the other (or both: the seam dedupes by seq). Live
 * events are held until `start(output)`, which writes the replay, then what
 * was held, then live events as they come.
 *
 * Lease: a follower that sees nothing at all (events or the producer's
 * `sluice-lease` markers) for a whole lease checks the log once more and, if
 * it is still quiet, writes `done` `{"reason":"lost"}`; whatever the log then
 * says first is what every reader delivers.
 */
import { SluiceError } from '../protocol/errors.js'
import type { ReadResult, Store, StoredEvent } from '../hub/store.js'
import {
  DONE_EVENT,
  doneReason,
  FOLLOW_EVENT,
  LEASE_EVENT,
  noop,
  resumePoint,
  runEventId,
  runTopic,
  scanLog,
  unpack,
} from './log.js'
import type { RunMetrics } from './metrics.js'
import type { OpenedRun, RunOutput } from './types.js'

/** What a follower needs of its manager. */
export interface FollowerHost {
  readonly store: Store
  readonly ttl: number
  readonly lease: number
  readonly metrics: RunMetrics
  /** Whether this node produces the run (then its lease cannot lapse). */
  isLocal(runId: string): boolean
  /** The open followers' detaches, run when the manager closes. */
  readonly opened: Set<() => void>
}

/** The `event: error` a follower gets where its run's history has a hole. */
function truncatedNotice(message: string): { id: string; event: string; data: string } {
  return { id: '', event: 'error', data: JSON.stringify({ error: 'RUN_TRUNCATED', message }) }
}

/**
 * Open a follower of a run (its id checked by the caller): live events are
 * held from now, the log is read. Throws BAD_REQUEST (400) for a Last-Event-ID
 * that is not a run's, RUN_NOT_FOUND (404) for a run the store does not hold.
 */
export async function openFollower(
  host: FollowerHost,
  runId: string,
  lastEventId: string,
): Promise<OpenedRun> {
  // Resume after event number `after` (-1: from the start).
  const follower = new Follower(host, runId, resumePoint(lastEventId, runId))
  await follower.attach()
  return {
    runId,
    status: follower.finishedForClient ? 'finished' : 'live',
    start: (output) => follower.start(output),
    close: () => follower.close(),
  }
}

/** One follower of one run on this node, with its explicit state. */
class Follower {
  private readonly topic: string
  /** Live events that came before `start()`. */
  private held: StoredEvent[] = []
  private holding = true
  private unwatch: () => void = noop
  /** The log as read when opened, until `start()` writes it. */
  private read: ReadResult | null = null
  /** The client already has the terminal event: nothing to send. */
  finishedForClient = false
  /** The oldest events of the run are no longer kept, and the client lacks them. */
  private truncated = false
  private output: RunOutput | null = null
  private closed = false
  /** The terminal event has been delivered (or the run found lost). */
  private ended = false
  private lastSeq = 0
  private lastNumber = -1
  private lastActivity = Date.now()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Store failures in a row while checking the lease. */
  private failures = 0
  private lostCounted = false

  constructor(
    private readonly host: FollowerHost,
    private readonly runId: string,
    /** Resume after this event number (-1: from the start). */
    private readonly after: number,
  ) {
    this.topic = runTopic(runId)
  }

  /** Join the live feed, then read the log; throws RUN_NOT_FOUND for an empty one. */
  async attach(): Promise<void> {
    const store = this.host.store
    this.unwatch = await store.watch(this.topic, {
      onEvent: (e) => (this.holding ? this.held.push(e) : this.feed(e)),
      onReset: () => {
        // The store was flushed: this run's log is gone.
        if (!this.holding) this.lostNow('The store holding this run was reset; the run is gone.')
      },
      // Trimmed before this node could deliver them (while holding, the read
      // reports what history lacks).
      onGap: (info) => {
        if (!this.holding) this.missed(info.throughSeq)
      },
    })
    let read: ReadResult
    try {
      read = await store.read([this.topic], 0)
    } catch (err) {
      this.unwatch()
      throw err
    }
    if (read.events.length === 0 && this.held.length === 0) {
      this.unwatch()
      throw new SluiceError(
        'RUN_NOT_FOUND',
        `No run ${this.runId}: it never existed here, or it finished more than its TTL ago.`,
      )
    }
    this.read = read
    const { finishedForClient, firstNumber } = scanLog(read.events, this.after)
    this.finishedForClient = finishedForClient
    // Trimmed history (a run longer than the store keeps): only a loss if it is past the client's id.
    this.truncated = read.truncated && firstNumber !== undefined && firstNumber > this.after + 1
    this.lastActivity = Date.now()
    this.host.opened.add(this.detach)
  }

  /** Write the replay, then what was held, then live events; watch the lease. */
  start(output: RunOutput): void {
    this.output = output
    if (this.closed) return
    if (this.truncated) {
      output.event(
        truncatedNotice(
          'The start of this run is no longer kept (the store keeps a bounded history per run); continuing with the oldest event kept.',
        ),
      )
    }
    const replay = this.read?.events ?? []
    this.read = null
    void this.replay(replay)
  }

  /**
   * The replay at the client's pace (issue 17 row 3: written in one loop, a
   * replay past the follower's buffer cap was cut before its first byte,
   * forever), then what was held meanwhile, then live events.
   */
  private async replay(replay: readonly StoredEvent[]): Promise<void> {
    for (const e of replay) {
      if (this.closed || this.ended) return
      const paced = this.feed(e)
      // Only a promise is awaited: an output that returns nothing keeps the replay synchronous.
      if (paced instanceof Promise) await paced
    }
    this.holding = false
    const pending = this.held.splice(0)
    for (const e of pending) this.feed(e)
    this.arm()
  }

  /** Stop following (idempotent): leave the live feed, stop the lease timer. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.holding = false
    this.held.length = 0
    this.unwatch()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.host.opened.delete(this.detach)
  }

  /** This node is shutting down, or cannot reach the store: end the stream without a verdict. */
  private readonly detach = (): void => {
    if (this.closed) return
    this.close()
    this.output?.detach?.()
  }

  /**
   * One event of the log, in seq order: delivered if the client lacks it, up
   * to the first terminal one. Returns the output's promise, if any (to pace a replay).
   */
  private feed(e: StoredEvent): unknown {
    if (this.ended || this.closed || e.seq <= this.lastSeq) return
    this.lastSeq = e.seq
    // Another follower's presence says nothing of the producer's life.
    if (e.event === FOLLOW_EVENT) return
    this.lastActivity = Date.now()
    if (e.event === LEASE_EVENT) return
    const { n, name } = unpack(e)
    this.lastNumber = n ?? this.lastNumber + 1
    if (this.lastNumber <= this.after) {
      // The run ended at or before the client's id (an id past the end): nothing to
      // send, but the stream ends (issue 17 row 10: it stayed open, heartbeating).
      if (name === DONE_EVENT) {
        this.ended = true
        this.close()
        this.output?.end(doneReason(e.data))
      }
      return
    }
    const paced = this.output!.event({
      id: runEventId(this.runId, this.lastNumber),
      event: name,
      data: e.data,
    })
    if (name === DONE_EVENT) {
      this.ended = true
      const reason = doneReason(e.data)
      this.close()
      this.output!.end(reason)
    }
    return paced
  }

  /** Events of the run up to `throughSeq` were trimmed before they reached this follower: say so, go on. */
  private missed(throughSeq: number): void {
    if (this.ended || this.closed || this.lastSeq >= throughSeq) return
    this.output?.event(
      truncatedNotice(
        'Events of this run were trimmed from the store before this node could send them (the store keeps a bounded history per run): some are missing; continuing with the next one kept.',
      ),
    )
  }

  /** The run is gone: tell this follower directly (the store cannot take the terminal event). */
  private lostNow(message: string): void {
    if (this.ended || this.closed) return
    this.ended = true
    this.host.metrics.lostDetected++
    const data = JSON.stringify({ reason: 'lost', message })
    this.close()
    this.output?.event({ id: '', event: DONE_EVENT, data })
    this.output?.end('lost')
  }

  /** The lease: nothing for a whole lease means the producing node may be gone. */
  private arm(): void {
    if (this.closed || this.ended) return
    const wait = Math.max(10, this.lastActivity + this.host.lease - Date.now())
    this.timer = setTimeout(() => void this.check(), wait)
    this.timer.unref?.()
  }

  private async check(): Promise<void> {
    this.timer = undefined
    if (this.closed || this.ended) return
    const local = this.host.isLocal(this.runId)
    if (Date.now() - this.lastActivity < this.host.lease || local) {
      if (local) this.lastActivity = Date.now()
      return this.arm()
    }
    try {
      await this.checkLog()
    } catch {
      // The store is unreachable. Try again after a lease; after two in a
      // row, end this stream without a final event: the client reconnects
      // (perhaps to a node that can reach the store) instead of hanging here.
      if (++this.failures >= 2) return this.detach()
      this.timer = setTimeout(() => void this.check(), this.host.lease)
      this.timer.unref?.()
    }
  }

  /** The lease lapsed: look at the log itself, and write `done` `lost` if it is still quiet. */
  private async checkLog(): Promise<void> {
    const { store, ttl, lease } = this.host
    // The live feed may lag: look at the log itself before declaring anything.
    const newer = await store.read([this.topic], this.lastSeq)
    if (this.closed || this.ended) return
    const fresh = newer.events.filter((e) => e.seq > this.lastSeq && e.event !== FOLLOW_EVENT)
    if (fresh.length > 0) {
      for (const e of fresh) this.feed(e)
      return this.arm()
    }
    if (newer.events.length === 0 && (await store.info(this.topic)) === null) {
      return this.lostNow('The run is gone from the store (expired or flushed).')
    }
    // Counted before the write (its echo may reach this follower first), once however often the write is retried.
    if (!this.lostCounted) {
      this.lostCounted = true
      this.host.metrics.lostDetected++
    }
    await store.append(this.topic, {
      event: DONE_EVENT,
      data: JSON.stringify({
        reason: 'lost',
        message: `The node producing this run stopped renewing its lease (${lease} ms): the run was lost.`,
      }),
    })
    await store.expire(this.topic, ttl)
    // Deliver whatever the log now says, up to its first terminal event (ours or a racer's).
    const last = await store.read([this.topic], this.lastSeq)
    for (const e of last.events) this.feed(e)
    this.failures = 0
    this.arm()
  }
}
