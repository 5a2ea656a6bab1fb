/**
 * The producing side of a run: `LocalRun` appends the producer's events to
 * the log in order, numbers them, writes the one terminal event, holds the
 * lease on a shared store and watches for a stop written on another node;
 * `drive()` runs the producer (an async generator or a function) into it.
 *
 * Lease: on a shared store the producing node appends a `sluice-lease` marker
 * (never delivered to clients) whenever it has been quiet for a quarter of the
 * lease; a follower that sees nothing at all for a whole lease checks the log
 * once more and, if it is still quiet, writes `done` with reason `lost`.
 *
 * Stop: `DELETE` on any node appends `done` `{"reason":"stopped"}`; the
 * producing node watches its run's log and aborts the producer's signal as
 * soon as a terminal event it did not write appears.
 */
import { SluiceError } from '../protocol/errors.js'
import type { Store, StoredEvent } from '../hub/store.js'
import { eventBytes, type RunBudget } from './budget.js'
import {
  DONE_EVENT,
  doneReason,
  FOLLOW_EVENT,
  LEASE_EVENT,
  noop,
  RESERVED_EVENTS,
  type RunEndReason,
} from './log.js'
import type { RunMetrics } from './metrics.js'
import type { RunEmitter, RunMessage, RunProducer } from './types.js'

/** What a producing run needs of its manager. */
export interface ProducerHost {
  readonly store: Store
  readonly metrics: RunMetrics
  /** The node's bytes for runs: every append is counted, a producer's send refused past it. */
  readonly budget: RunBudget
  /** Another node wrote a presence marker into the run: someone follows it there. */
  seen(runId: string): void
  /** The run has settled: this node no longer produces it. */
  forget(run: LocalRun): void
}

/** The `event: error` data of a producer's error: a SluiceError's own, else a generic message. */
export type ErrorFormatter = (error: unknown) => { error: string; message: string }

export function defaultFormatError(error: unknown): { error: string; message: string } {
  if (error instanceof SluiceError) return { error: error.code, message: error.message }
  return { error: 'RUN_FAILED', message: 'The run failed before finishing; please try again.' }
}

function safeFormat(format: ErrorFormatter, err: unknown): { error: string; message: string } {
  try {
    return format(err)
  } catch {
    return defaultFormatError(err)
  }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<RunMessage> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in (v as object)
}

/** A run this node produces. */
export class LocalRun implements RunEmitter {
  readonly controller = new AbortController()
  /** Appends are chained so the log keeps the producer's order whatever the store. */
  private queue: Promise<unknown> = Promise.resolve()
  private lastAppend = Date.now()
  private leaseTimer: ReturnType<typeof setInterval> | undefined
  private unwatch: (() => void) | undefined
  finished = false
  endReason: RunEndReason | undefined
  readonly ended: Promise<RunEndReason>
  private resolveEnded!: (r: RunEndReason) => void
  /** The number of the next event (0 is `run`). */
  private next = 0

  constructor(
    private readonly host: ProducerHost,
    readonly runId: string,
    readonly topic: string,
    private readonly eventName: string,
    readonly ttl: number,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r))
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Watch our own log for a terminal event written elsewhere (DELETE on another node). */
  async watchForStop(): Promise<void> {
    this.unwatch = await this.host.store.watch(this.topic, {
      onEvent: (e) => {
        if (e.event === FOLLOW_EVENT) return this.host.seen(this.runId)
        // Our own terminal event is numbered; another node's (DELETE there) is not.
        if (e.event === DONE_EVENT && !this.finished) {
          this.settle(doneReason(e.data), new SluiceError('RUN_STOPPED', 'The run was stopped.'))
        }
      },
    })
    if (this.finished) this.unwatch()
  }

  /**
   * On a shared store: renew the lease, and keep the log alive while running
   * (it gets its real TTL when the run ends; a run whose node died expires
   * TTL + 2 leases after its last renewal). A memory store dies with this
   * process, so it needs neither.
   */
  startLease(lease: number): void {
    // A marker whenever quiet for a quarter lease: a follower sees activity at least every half lease.
    const every = Math.max(10, Math.floor(lease / 4))
    const store = this.host.store
    let expiresRenewed = 0
    this.leaseTimer = setInterval(() => {
      if (this.finished) return
      const now = Date.now()
      if (now - expiresRenewed >= lease) {
        expiresRenewed = now
        store.expire(this.topic, this.ttl + lease * 2).catch(noop)
      }
      if (now - this.lastAppend >= every) {
        this.append({ event: LEASE_EVENT, data: '' }).catch(noop)
      }
    }, every)
    this.leaseTimer.unref?.()
  }

  /** Append a numbered event (numbers follow call order, as the appends do). */
  appendNumbered(event: string, data: string): Promise<StoredEvent> {
    return this.append({ event: `${this.next++}:${event}`, data })
  }

  append(input: { event: string; data: string }): Promise<StoredEvent> {
    this.host.budget.add(this.runId, eventBytes(input.event, input.data))
    const p = this.queue.then(() => this.host.store.append(this.topic, input))
    this.queue = p.catch(noop)
    this.lastAppend = Date.now()
    return p.then((e) => {
      this.lastAppend = Date.now()
      return e
    })
  }

  send(message: RunMessage): Promise<void> {
    if (this.finished) {
      return Promise.reject(
        new SluiceError('STREAM_CLOSED', `Run ${this.runId} has ended; nothing more can be sent.`),
      )
    }
    let event = this.eventName
    let data: string
    if (typeof message === 'string') data = message
    else if (message !== null && typeof message === 'object' && 'data' in message) {
      if (message.event !== undefined) event = message.event
      data = typeof message.data === 'string' ? message.data : JSON.stringify(message.data)
      if (data === undefined) {
        return Promise.reject(
          new SluiceError('INVALID_FIELD', 'Run event data has no JSON form.', { field: 'data' }),
        )
      }
    } else {
      return Promise.reject(
        new SluiceError('INVALID_ARGUMENT', 'send() takes a string or { event?, data }.'),
      )
    }
    if (RESERVED_EVENTS.has(event) || /[\r\n]/.test(event)) {
      return Promise.reject(
        new SluiceError(
          'INVALID_ARGUMENT',
          `Event name '${event}' is reserved by runs or has a line break; use another (e.g. 'token').`,
        ),
      )
    }
    // Past the node's budget the run fails (the terminal events still go in).
    if (!this.host.budget.room()) {
      return Promise.reject(
        new SluiceError(
          'RUN_BUDGET',
          "The server's memory for answers is full; this answer was stopped. Please try again later.",
          { memoryBudget: this.host.budget.limit },
        ),
      )
    }
    return this.appendNumbered(event, data).then(noop)
  }

  complete(info: Record<string, unknown> = {}): Promise<void> {
    return this.finish('complete', info)
  }

  /** Write the terminal event (once) and settle. */
  async finish(reason: RunEndReason, info: Record<string, unknown> = {}): Promise<void> {
    if (this.finished) return
    this.finished = true
    // Stop the producer first (a stop must reach it fast); its queued events still precede `done`.
    if (reason !== 'complete' && !this.controller.signal.aborted) {
      this.controller.abort(
        new SluiceError('RUN_STOPPED', `The run ended (${reason}).`, { reason }),
      )
    }
    try {
      // `reason` first on the wire, and never overridden by `info`.
      await this.appendNumbered(
        DONE_EVENT,
        JSON.stringify(Object.assign({ reason }, info, { reason })),
      )
    } catch {
      // The store is unreachable: followers elsewhere will see the lease lapse.
    }
    await this.host.store.expire(this.topic, this.ttl).catch(noop)
    this.settle(reason, new SluiceError('RUN_ENDED', `The run ended (${reason}).`))
  }

  /** Error: `event: error` then `done` `{"reason":"error"}`. */
  async fail(error: { error: string; message: string }): Promise<void> {
    if (this.finished) return
    await this.appendNumbered('error', JSON.stringify(error)).catch(noop)
    await this.finish('error')
  }

  /** The run is over (`counted`: false for a run that never started, refused by the store). */
  settle(reason: RunEndReason, abortReason: unknown, counted = true): void {
    this.finished = true
    if (this.endReason !== undefined) return
    this.endReason = reason
    if (counted) this.host.metrics.ended[reason]++
    if (this.leaseTimer) clearInterval(this.leaseTimer)
    this.unwatch?.()
    if (!this.controller.signal.aborted) this.controller.abort(abortReason)
    this.host.forget(this)
    this.resolveEnded(reason)
  }
}

/** Run the producer into `run`: each yielded message is sent; its end completes the run, its throw fails it. */
export async function drive(
  run: LocalRun,
  producer: RunProducer,
  formatError: ErrorFormatter,
): Promise<void> {
  try {
    const result = producer(run, run.signal)
    if (isAsyncIterable(result)) {
      for await (const message of result) {
        if (run.finished) break
        await run.send(message)
      }
    } else await result
    if (!run.finished) await run.finish('complete')
  } catch (err) {
    if (run.finished) return // stopped or completed: what the producer throws now is its way out
    await run.fail(safeFormat(formatError, err))
  }
}
