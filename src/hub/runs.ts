/**
 * Resumable runs: a producer (an LLM answer, a long job) whose events go into
 * a store (the hub's kind) under the run's own id instead of straight to one socket.
 * The request that started it streams from the store; any later request
 * replays what it missed (`Last-Event-ID`) and follows the rest live, on any
 * node that shares the store. See docs/runs.md.
 *
 * A run's log, in order: `event: run` `{"runId","resumeUrl"}`, the producer's
 * events, then exactly one terminal `event: done` `{"reason":...}` where the
 * reason is `complete`, `stopped` (DELETE), `error` (after an `event: error`)
 * or `lost` (its node died). Several nodes may race to write a terminal event
 * (a stop against the producer's own end, two followers noticing a lapsed
 * lease): the FIRST terminal event in the log wins for every reader, and
 * anything after it is never delivered. That one rule keeps every follower,
 * on every node, and every later resume in agreement without a lock.
 *
 * Ids: a run's events are numbered from 0 (the `run` event) by the producer;
 * the SSE id is that number, so a run's ids read 0, 1, 2... whatever else
 * the store holds. The store keeps it in the event name (`<n>:<name>`); a
 * terminal event another node writes carries no number and takes the next
 * one, which every reader computes alike from the log.
 *
 * Lease: on a shared store the producing node appends a `sluice-lease` marker
 * (never delivered to clients) whenever it has been quiet for a quarter of the
 * lease. A follower that sees nothing at all for a whole lease checks the log
 * once more and, if it is still quiet, writes `done` with reason `lost`.
 *
 * Stop: `DELETE` on any node appends `done` `{"reason":"stopped"}`; the
 * producing node watches its run's log and aborts the producer's signal as
 * soon as a terminal event it did not write appears.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { encodeEvent } from '../protocol/encoder.js'
import { envelope } from '../protocol/envelope.js'
import { SluiceError } from '../protocol/errors.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import { readLastEventId } from '../server/event-stream.js'
import { discardBody, sendJsonError } from '../server/http-json.js'
import { createEventStream } from '../server/node.js'
import { createWebEventStream } from '../server/web.js'
import { RunMetrics } from './metrics.js'
import type { Store, StoredEvent } from './store.js'

/** Store topics of runs start with a NUL, which a pub/sub topic may never contain: runs and topics never meet. */
export const RUN_TOPIC_PREFIX = '\u0000run:'
export const RUN_EVENT = 'run'
export const DONE_EVENT = 'done'
export const LEASE_EVENT = 'sluice-lease'
/** The response header naming where a run is resumed (`GET`) and stopped (`DELETE`). */
export const RESUME_URL_HEADER = 'Sluice-Resume-Url'
export const RUN_ID_HEADER = 'Sluice-Run-Id'

export const DEFAULT_RUN_TTL = 10 * 60_000
export const DEFAULT_RUN_LEASE = 5_000

export type RunEndReason = 'complete' | 'stopped' | 'error' | 'lost'

/** An event of a run as a follower receives it. */
export interface RunEvent {
  /** The event's number in the run (`0` for `run`): the SSE id, and what `Last-Event-ID` resumes from. '' on notices. */
  id: string
  /** `run`, `done`, `error`, or the producer's own event names (`token` by default). */
  event: string
  data: string
}

/** What a producer sends: a string (an event named `options.event`, default `token`) or an event. */
export type RunMessage = string | { event?: string; data: unknown }

/** The producer's side of a run. */
export interface RunEmitter {
  readonly runId: string
  /** Aborted when the run is stopped (`DELETE`), lost its store, or the node shuts down. */
  readonly signal: AbortSignal
  /** Append an event to the run. Resolves once it is in the store (that is the backpressure). */
  send(message: RunMessage): Promise<void>
  /** Finish now with `done` `{"reason":"complete", ...info}` (otherwise the producer's end finishes it). */
  complete(info?: Record<string, unknown>): Promise<void>
}

/**
 * A producer: an async generator (each yielded value is sent), or a function
 * that sends through the emitter and returns (or resolves) when it is done.
 * A throw ends the run with `event: error` then `done` `{"reason":"error"}`.
 */
export type RunProducer = (
  run: RunEmitter,
  signal: AbortSignal,
) => AsyncIterable<RunMessage> | Promise<unknown> | unknown

/** How a follower's events become bytes on the wire; null skips an event. */
export type RunFormat = (event: RunEvent) => string | null

export interface RunsOptions {
  /** How long a finished run stays resumable (ms). Default 10 min. */
  ttl?: number
  /** The producing node's lease (ms): followers elsewhere report the run lost this long after its node went silent. Default 5000. */
  lease?: number
  /** Most runs this node produces at once; more are refused with 503 RUN_LIMIT. Default 10 000. */
  maxActive?: number
  /** Reconnection delay sent to clients (`retry:`), ms. Default 1000. */
  retry?: number
  /** Heartbeat interval of follower streams (ms). Default 15 000. */
  heartbeat?: number
  /** Bytes a follower may fall behind before it is cut (it then resumes). Default 1 MiB. */
  maxBufferedBytes?: number
}

export interface RunOptions {
  /** The run's id (1-128 of `A-Za-z0-9_-`). Default: 20 random base-36 characters. */
  id?: string
  /**
   * Where the run is resumed and stopped. A function gets the id. Default:
   * the starting request's path + `/<runId>` (POST /chat -> /chat/<runId>).
   */
  resumeUrl?: string | ((runId: string) => string)
  /** Event name of yielded or sent strings. Default `token`. */
  event?: string
  /** Override the manager's TTL for this run (ms). */
  ttl?: number
  /**
   * Stop the run when its last follower on this node disconnects and no one
   * has come back after this many ms (`true` = 0). Default: never; a
   * disconnect leaves the run going, to be resumed. Followers on other nodes
   * are not counted.
   */
  stopOnDisconnect?: boolean | number
  /** How the starting response writes events (default SSE; see `envelopeRunFormat`). */
  format?: RunFormat
  /** Turn a producer's error into the `event: error` data `{error, message}`. Default: a SluiceError's own, else a generic message. */
  formatError?: (error: unknown) => { error: string; message: string }
  /** Extra response headers for the starting response. */
  headers?: Record<string, string>
  /** Open the starting response's stream (node:http), e.g. so that a server can end it on shutdown. */
  openStream?: NodeStreamOpener
}

export interface FollowOptions {
  /** Resume after this id ('' replays the whole run). Default: the request's `Last-Event-ID` header or `?lastEventId=`. */
  lastEventId?: string
  format?: RunFormat
  headers?: Record<string, string>
  /** The resume URL to name in the response header (default: the request's path). */
  resumeUrl?: string
  openStream?: NodeStreamOpener
}

export type NodeStreamOpener = (
  req: IncomingMessage,
  res: ServerResponse,
  options: EventStreamOptions,
) => EventStream

/** A run just started: its id and where to resume it. */
export interface StartedRun {
  runId: string
  resumeUrl: string
  /** Resolves with how the run ended (here: when this node wrote or saw its terminal event). */
  ended: Promise<RunEndReason>
}

export interface StopResult {
  runId: string
  /** `stopped` by this call, or how the run had already ended. */
  reason: RunEndReason
  /** False when the run had already ended before this call. */
  stopped: boolean
}

/** Where a follower's events go. */
export interface RunOutput {
  event(e: RunEvent): void
  /** After the terminal event: the run is over. */
  end(reason: RunEndReason): void
  /** This node is shutting down (the run may go on elsewhere): end the stream without a terminal event, so the client resumes elsewhere. */
  detach?(): void
}

/** An opened follow: the replay is read, live events are held until `start()`. */
export interface OpenedRun {
  runId: string
  /** 'finished': the client already has the terminal event (answer 204, nothing to send). */
  status: 'live' | 'finished'
  start(output: RunOutput): void
  close(): void
}

/** SSE: each event as is, with its id. */
export const sseRunFormat: RunFormat = (e) =>
  encodeEvent({ id: e.id, event: e.event, data: e.data })

/**
 * The guide's envelope (`data:{"code":200,"data":...}` lines, ending with
 * `data:{"code":-200}`), for line-by-line JSON readers: no ids, no event
 * names, the `run` event left out (the resume URL is in the response header).
 */
export const envelopeRunFormat: RunFormat = (e) => {
  if (e.event === RUN_EVENT) return null
  if (e.event === 'error') {
    let message = e.data
    try {
      message = String((JSON.parse(e.data) as { message?: unknown }).message ?? e.data)
    } catch {}
    return envelope.error(message)
  }
  if (e.event === DONE_EVENT) {
    const reason = doneReason(e.data)
    if (reason === 'complete' || reason === 'stopped') return envelope.end()
    if (reason === 'lost') return envelope.error(doneMessage(e.data) ?? 'The run was lost.')
    return null // `error`: the error frame went out just before
  }
  return envelope.chunk(e.data)
}

const RUN_ID_RE = /^[A-Za-z0-9_-]{1,128}$/
const RESERVED = new Set([RUN_EVENT, DONE_EVENT, LEASE_EVENT])
const noop = (): void => {}

export function runTopic(runId: string): string {
  return RUN_TOPIC_PREFIX + runId
}

function newRunId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let s = ''
  for (const b of bytes) s += (b % 36).toString(36)
  return s + Date.now().toString(36).slice(-4)
}

function checkRunId(runId: unknown): string {
  if (typeof runId !== 'string' || !RUN_ID_RE.test(runId)) {
    throw new SluiceError(
      'RUN_NOT_FOUND',
      'No such run: a run id is 1-128 characters of A-Z a-z 0-9 _ -.',
      { status: 404 },
    )
  }
  return runId
}

/** A stored run event: `<n>:<name>` for the producer's numbered events, the bare name otherwise. */
function unpack(e: StoredEvent): { n: number | undefined; name: string } {
  const ev = e.event ?? ''
  const colon = ev.indexOf(':')
  if (colon > 0) {
    const digits = ev.slice(0, colon)
    if (/^\d{1,15}$/.test(digits)) return { n: Number(digits), name: ev.slice(colon + 1) }
  }
  return { n: undefined, name: ev }
}

const isTerminal = (e: StoredEvent): boolean => unpack(e).name === DONE_EVENT

function doneReason(data: string): RunEndReason {
  try {
    const r = (JSON.parse(data) as { reason?: unknown }).reason
    if (r === 'complete' || r === 'stopped' || r === 'error' || r === 'lost') return r
  } catch {}
  return 'complete'
}

function doneMessage(data: string): string | undefined {
  try {
    const m = (JSON.parse(data) as { message?: unknown }).message
    return typeof m === 'string' ? m : undefined
  } catch {
    return undefined
  }
}

function defaultFormatError(error: unknown): { error: string; message: string } {
  if (error instanceof SluiceError) return { error: error.code, message: error.message }
  return { error: 'RUN_FAILED', message: 'The run failed before finishing; please try again.' }
}

function isAsyncIterable(v: unknown): v is AsyncIterable<RunMessage> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in (v as object)
}

/** A run this node produces. */
class LocalRun implements RunEmitter {
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
    private readonly manager: Runs,
    readonly runId: string,
    readonly topic: string,
    private readonly eventName: string,
    private readonly ttl: number,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r))
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Watch our own log for a terminal event written elsewhere (DELETE on another node). */
  async watchForStop(): Promise<void> {
    this.unwatch = await this.manager.store.watch(this.topic, {
      onEvent: (e) => {
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
    const store = this.manager.store
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
    const p = this.queue.then(() => this.manager.store.append(this.topic, input))
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
    if (RESERVED.has(event) || /[\r\n]/.test(event)) {
      return Promise.reject(
        new SluiceError(
          'INVALID_ARGUMENT',
          `Event name '${event}' is reserved by runs or has a line break; use another (e.g. 'token').`,
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
    await this.manager.store.expire(this.topic, this.ttl).catch(noop)
    this.settle(reason, new SluiceError('RUN_ENDED', `The run ended (${reason}).`))
  }

  /** Error: `event: error` then `done` `{"reason":"error"}`. */
  async fail(error: { error: string; message: string }): Promise<void> {
    if (this.finished) return
    await this.appendNumbered('error', JSON.stringify(error)).catch(noop)
    await this.finish('error')
  }

  settle(reason: RunEndReason, abortReason: unknown): void {
    this.finished = true
    if (this.endReason !== undefined) return
    this.endReason = reason
    this.manager.metrics.ended[reason]++
    if (this.leaseTimer) clearInterval(this.leaseTimer)
    this.unwatch?.()
    if (!this.controller.signal.aborted) this.controller.abort(abortReason)
    this.manager.forget(this)
    this.resolveEnded(reason)
  }
}

/**
 * The runs over one store: `run(...)`, `resume(...)`, `stopRun(...)` over
 * HTTP, `start()`, `open()`, `stop()` for the lower level.
 */
export class Runs {
  readonly store: Store
  private readonly local = new Map<string, LocalRun>()
  /** Followers per run on this node, for `stopOnDisconnect`. */
  private readonly followers = new Map<string, number>()
  private readonly abandon = new Map<string, number>()
  private readonly opened = new Set<() => void>()
  private closed = false
  readonly ttl: number
  readonly lease: number
  readonly options: Readonly<RunsOptions>
  /** Counters for `GET /metrics` (`metricsText()`). */
  readonly metrics = new RunMetrics()

  constructor(store: Store, options: RunsOptions = {}) {
    this.store = store
    this.options = options
    this.ttl = options.ttl ?? DEFAULT_RUN_TTL
    this.lease = options.lease ?? DEFAULT_RUN_LEASE
    for (const [k, v] of [
      ['ttl', this.ttl],
      ['lease', this.lease],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0) {
        throw new SluiceError(
          'INVALID_ARGUMENT',
          `Runs \`${k}\` must be a positive number of ms.`,
          {
            [k]: v,
          },
        )
      }
    }
  }

  /** Runs this node is producing now. */
  get active(): number {
    return this.local.size
  }

  /** The runs' counters as Prometheus text (`sluice_runs_*`). */
  metricsText(): string {
    return this.metrics.text(this.active)
  }

  /** Whether this node is producing the run. */
  isLocal(runId: string): boolean {
    return this.local.has(runId)
  }

  /**
   * Start a run: write its `run` event, then run the producer in the
   * background. Followers attach with `open()` (or the HTTP helpers).
   */
  async start(producer: RunProducer, options: RunOptions = {}): Promise<StartedRun> {
    if (this.closed) throw new SluiceError('STREAM_CLOSED', 'The runs manager is closed.')
    if (typeof producer !== 'function') {
      throw new SluiceError(
        'INVALID_ARGUMENT',
        'A run needs a producer function: async function* (run, signal) { yield "token" } or async (run, signal) => { await run.send("token") }.',
      )
    }
    const max = this.options.maxActive ?? 10_000
    if (this.local.size >= max) {
      throw new SluiceError(
        'RUN_LIMIT',
        `This node is already producing ${max} runs (maxActive); retry shortly.`,
        { status: 503, maxActive: max },
      )
    }
    const runId = options.id === undefined ? newRunId() : checkRunId(options.id)
    // A random id never collides; a chosen one may.
    if (
      this.local.has(runId) ||
      (options.id !== undefined && (await this.store.info(runTopic(runId))) !== null)
    ) {
      throw new SluiceError('RUN_EXISTS', `A run with id ${runId} exists already.`, {
        status: 409,
      })
    }
    const resumeUrl =
      typeof options.resumeUrl === 'function'
        ? options.resumeUrl(runId)
        : (options.resumeUrl ?? `/runs/${runId}`)
    const ttl = options.ttl ?? this.ttl
    const run = new LocalRun(this, runId, runTopic(runId), options.event ?? 'token', ttl)
    this.local.set(runId, run)
    this.metrics.started++
    try {
      await run.appendNumbered(RUN_EVENT, JSON.stringify({ runId, resumeUrl }))
      await run.watchForStop()
    } catch (err) {
      run.settle('error', err)
      throw err
    }
    if (this.store.kind !== 'memory') run.startLease(this.lease)
    const formatError = options.formatError ?? defaultFormatError
    void this.drive(run, producer, formatError)
    return { runId, resumeUrl, ended: run.ended }
  }

  private async drive(
    run: LocalRun,
    producer: RunProducer,
    formatError: (e: unknown) => { error: string; message: string },
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

  /**
   * Stop a run, wherever it is produced: writes `done` `{"reason":"stopped"}`
   * (unless it has ended already) and aborts the producer's signal (at once
   * here, through the store's live feed on another node).
   */
  async stop(runId: string): Promise<StopResult> {
    checkRunId(runId)
    const local = this.local.get(runId)
    if (local && !local.finished) {
      await local.finish('stopped')
      return { runId, reason: 'stopped', stopped: true }
    }
    const topic = runTopic(runId)
    const read = await this.store.read([topic], 0)
    if (read.events.length === 0) {
      throw new SluiceError('RUN_NOT_FOUND', `No run ${runId} (it never existed or expired).`, {
        status: 404,
      })
    }
    const terminal = read.events.find(isTerminal)
    if (terminal) return { runId, reason: doneReason(terminal.data), stopped: false }
    await this.store.append(topic, { event: DONE_EVENT, data: '{"reason":"stopped"}' })
    await this.store.expire(topic, this.ttl)
    // The first terminal event in the log is the one that counts.
    const after = await this.store.read([topic], 0)
    const first = after.events.find(isTerminal)
    const reason = first ? doneReason(first.data) : 'stopped'
    return { runId, reason, stopped: reason === 'stopped' }
  }

  /**
   * Open a follower of a run: live events are held from now, the log after
   * `lastEventId` is read; `start(output)` writes the replay then live events
   * up to and including the terminal one. Throws RUN_NOT_FOUND (404), or
   * BAD_REQUEST (400) for an id that is not from this run's store.
   */
  async open(runId: string, lastEventId = ''): Promise<OpenedRun> {
    if (this.closed) throw new SluiceError('STREAM_CLOSED', 'The runs manager is closed.')
    checkRunId(runId)
    const topic = runTopic(runId)
    // Resume after event number `after` (-1: from the start).
    let after = -1
    if (lastEventId) {
      if (!/^\d{1,15}$/.test(lastEventId)) {
        throw new SluiceError(
          'BAD_REQUEST',
          `Last-Event-ID ${JSON.stringify(lastEventId)} is not an id of a run (0, 1, 2...): resume with the id of the last event you received, or none to replay the run.`,
          { status: 400 },
        )
      }
      after = Number(lastEventId)
    }
    // Join the live feed first, then read: every event is in one or the other (or both: the seam dedupes by seq).
    const held: StoredEvent[] = []
    let holding = true
    let deliver: (e: StoredEvent) => void = noop
    const unwatch = await this.store.watch(topic, {
      onEvent: (e) => (holding ? held.push(e) : deliver(e)),
      onReset: () => {
        // The store was flushed: this run's log is gone.
        if (!holding) lostNow('The store holding this run was reset; the run is gone.')
      },
      // Trimmed before this node could deliver them (while holding, the read
      // below reports what history lacks).
      onGap: (info) => {
        if (!holding) missed(info.throughSeq)
      },
    })
    let read: Awaited<ReturnType<Store['read']>>
    try {
      read = await this.store.read([topic], 0)
    } catch (err) {
      unwatch()
      throw err
    }
    if (read.events.length === 0 && held.length === 0) {
      unwatch()
      throw new SluiceError(
        'RUN_NOT_FOUND',
        `No run ${runId}: it never existed here, or it finished more than its TTL ago.`,
        { status: 404 },
      )
    }
    // Number the log as every reader does: an unnumbered (terminal) event takes the next number.
    const numberOf = (e: StoredEvent, last: number): number => unpack(e).n ?? last + 1
    let finishedForClient = false
    let firstNumber: number | undefined
    {
      let last = -1
      for (const e of read.events) {
        if (e.event === LEASE_EVENT) continue
        last = numberOf(e, last)
        firstNumber ??= last
        if (isTerminal(e)) {
          finishedForClient = last <= after
          break
        }
      }
    }
    let closedHere = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let lastSeq = 0
    let lastNumber = -1
    let lastActivity = Date.now()
    let ended = false
    let output: RunOutput | null = null
    // Trimmed history (a run longer than the store keeps): only a loss if it is past the client's id.
    const truncated = read.truncated && firstNumber !== undefined && firstNumber > after + 1

    const close = (): void => {
      if (closedHere) return
      closedHere = true
      holding = false
      held.length = 0
      unwatch()
      if (timer !== undefined) clearTimeout(timer)
      this.opened.delete(detach)
    }
    const detach = (): void => {
      if (closedHere) return
      close()
      output?.detach?.()
    }
    this.opened.add(detach)

    const feed = (e: StoredEvent): void => {
      if (ended || closedHere || e.seq <= lastSeq) return
      lastSeq = e.seq
      lastActivity = Date.now()
      if (e.event === LEASE_EVENT) return
      const { n, name } = unpack(e)
      lastNumber = n ?? lastNumber + 1
      if (lastNumber <= after) {
        if (name === DONE_EVENT) ended = true
        return
      }
      output!.event({ id: String(lastNumber), event: name, data: e.data })
      if (name === DONE_EVENT) {
        ended = true
        const reason = doneReason(e.data)
        close()
        output!.end(reason)
      }
    }
    deliver = feed

    /** Events of the run up to `throughSeq` were trimmed before they reached this follower: say so, go on. */
    const missed = (throughSeq: number): void => {
      if (ended || closedHere || lastSeq >= throughSeq) return
      output?.event({
        id: '',
        event: 'error',
        data: JSON.stringify({
          error: 'RUN_TRUNCATED',
          message:
            'Events of this run were trimmed from the store before this node could send them (the store keeps a bounded history per run): some are missing; continuing with the next one kept.',
        }),
      })
    }

    const lostNow = (message: string): void => {
      if (ended || closedHere) return
      // Tell this follower directly: the store cannot take the terminal event.
      ended = true
      this.metrics.lostDetected++
      const data = JSON.stringify({ reason: 'lost', message })
      close()
      output?.event({ id: '', event: DONE_EVENT, data })
      output?.end('lost')
    }

    // The lease: nothing for a whole lease means the producing node may be gone.
    const arm = (): void => {
      if (closedHere || ended) return
      const wait = Math.max(10, lastActivity + this.lease - Date.now())
      timer = setTimeout(() => void check(), wait)
      timer.unref?.()
    }
    let failures = 0
    let lostCounted = false
    const check = async (): Promise<void> => {
      timer = undefined
      if (closedHere || ended) return
      if (Date.now() - lastActivity < this.lease || this.local.has(runId)) {
        if (this.local.has(runId)) lastActivity = Date.now()
        return arm()
      }
      try {
        // The live feed may lag: look at the log itself before declaring anything.
        const newer = await this.store.read([topic], lastSeq)
        if (closedHere || ended) return
        const fresh = newer.events.filter((e) => e.seq > lastSeq)
        if (fresh.length > 0) {
          for (const e of fresh) feed(e)
          return arm()
        }
        if (newer.events.length === 0 && (await this.store.info(topic)) === null) {
          return lostNow('The run is gone from the store (expired or flushed).')
        }
        // Counted before the write (its echo may reach this follower first), once however often the write is retried.
        if (!lostCounted) {
          lostCounted = true
          this.metrics.lostDetected++
        }
        await this.store.append(topic, {
          event: DONE_EVENT,
          data: JSON.stringify({
            reason: 'lost',
            message: `The node producing this run stopped renewing its lease (${this.lease} ms): the run was lost.`,
          }),
        })
        await this.store.expire(topic, this.ttl)
        // Deliver whatever the log now says, up to its first terminal event (ours or a racer's).
        const last = await this.store.read([topic], lastSeq)
        for (const e of last.events) feed(e)
        failures = 0
        arm()
      } catch {
        // The store is unreachable. Try again after a lease; after two in a
        // row, end this stream without a final event: the client reconnects
        // (perhaps to a node that can reach the store) instead of hanging here.
        if (++failures >= 2) return detach()
        timer = setTimeout(() => void check(), this.lease)
        timer.unref?.()
      }
    }

    return {
      runId,
      status: finishedForClient ? 'finished' : 'live',
      start: (out) => {
        output = out
        if (closedHere) return
        if (truncated) {
          out.event({
            id: '',
            event: 'error',
            data: JSON.stringify({
              error: 'RUN_TRUNCATED',
              message:
                'The start of this run is no longer kept (the store keeps a bounded history per run); continuing with the oldest event kept.',
            }),
          })
        }
        for (const e of read.events) feed(e)
        holding = false
        const pending = held.splice(0)
        for (const e of pending) feed(e)
        arm()
      },
      close,
    }
  }

  /** Count a follower of a run on this node (stopOnDisconnect). Returns the release. */
  private follow(runId: string): (disconnected: boolean) => void {
    this.followers.set(runId, (this.followers.get(runId) ?? 0) + 1)
    let released = false
    return (disconnected) => {
      if (released) return
      released = true
      const n = (this.followers.get(runId) ?? 1) - 1
      if (n > 0) {
        this.followers.set(runId, n)
        return
      }
      this.followers.delete(runId)
      const grace = this.abandon.get(runId)
      if (!disconnected || grace === undefined || !this.local.has(runId)) return
      setTimeout(() => {
        if (!this.followers.has(runId) && this.local.has(runId)) this.stop(runId).catch(noop)
      }, grace).unref?.()
    }
  }

  /** @internal */
  forget(run: LocalRun): void {
    if (this.local.get(run.runId) === run) this.local.delete(run.runId)
    this.abandon.delete(run.runId)
  }

  // ---- HTTP: node:http and Web Request/Response ----

  /**
   * Start a run and stream it as the response: `Sluice-Resume-Url` names
   * where to resume (`GET` with Last-Event-ID) and stop (`DELETE`).
   */
  run(request: Request, producer: RunProducer, options?: RunOptions): Promise<Response>
  run(
    req: IncomingMessage,
    res: ServerResponse,
    producer: RunProducer,
    options?: RunOptions,
  ): Promise<void>
  run(
    a: Request | IncomingMessage,
    b: ServerResponse | RunProducer,
    c?: RunProducer | RunOptions,
    d?: RunOptions,
  ): Promise<Response | void> {
    if (isWebRequest(a)) {
      const options = (c as RunOptions | undefined) ?? {}
      const path = new URL(a.url).pathname
      return this.startAndFollow(b as RunProducer, options, path).then(
        (started) =>
          this.resumeWeb(a, started.runId, {
            lastEventId: '',
            format: options.format,
            headers: options.headers,
            resumeUrl: started.resumeUrl,
          }),
        webError,
      )
    }
    const req = a
    const res = b as ServerResponse
    const options = d ?? {}
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    return this.startAndFollow(c as RunProducer, options, path).then(
      (started) =>
        this.resumeNode(req, res, started.runId, {
          lastEventId: '',
          format: options.format,
          headers: options.headers,
          resumeUrl: started.resumeUrl,
          openStream: options.openStream,
        }),
      (err) => nodeError(req, res, err),
    )
  }

  private startAndFollow(
    producer: RunProducer,
    options: RunOptions,
    path: string,
  ): Promise<StartedRun> {
    const resumeUrl =
      options.resumeUrl ?? ((id: string) => `${path.endsWith('/') ? path : path + '/'}${id}`)
    return this.start(producer, { ...options, resumeUrl }).then((started) => {
      const grace = options.stopOnDisconnect
      if (grace !== undefined && grace !== false) {
        this.abandon.set(started.runId, grace === true ? 0 : grace)
      }
      return started
    })
  }

  /** Resume (replay, then follow live) a run: `GET` on its resume URL. */
  resume(request: Request, runId: string, options?: FollowOptions): Promise<Response>
  resume(
    req: IncomingMessage,
    res: ServerResponse,
    runId: string,
    options?: FollowOptions,
  ): Promise<void>
  resume(
    a: Request | IncomingMessage,
    b: ServerResponse | string,
    c?: string | FollowOptions,
    d?: FollowOptions,
  ): Promise<Response | void> {
    if (isWebRequest(a)) return this.resumeWeb(a, b as string, (c as FollowOptions) ?? {}, true)
    return this.resumeNode(a, b as ServerResponse, c as string, d ?? {}, true)
  }

  /** Stop a run: `DELETE` on its resume URL. 200 `{"runId","reason","stopped"}`, or 404. */
  stopRun(request: Request, runId: string): Promise<Response>
  stopRun(req: IncomingMessage, res: ServerResponse, runId: string): Promise<void>
  stopRun(
    a: Request | IncomingMessage,
    b: ServerResponse | string,
    c?: string,
  ): Promise<Response | void> {
    if (isWebRequest(a)) {
      return this.stop(b as string).then(
        (r) =>
          new Response(JSON.stringify(r), {
            status: 200,
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }),
        webError,
      )
    }
    const res = b as ServerResponse
    discardBody(a, res)
    return this.stop(c as string).then(
      (r) => {
        const body = JSON.stringify(r)
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        })
        res.end(body)
      },
      (err) => nodeError(a, res, err),
    )
  }

  private streamOptions(runId: string, resumeUrl: string, extra?: Record<string, string>) {
    const o = this.options
    return {
      headers: {
        ...extra,
        [RESUME_URL_HEADER]: resumeUrl,
        [RUN_ID_HEADER]: runId,
        'access-control-expose-headers': `${RESUME_URL_HEADER}, ${RUN_ID_HEADER}`,
      },
      retry: o.retry ?? 1000,
      heartbeat: o.heartbeat ?? 15_000,
      maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
    } satisfies EventStreamOptions
  }

  private async resumeNode(
    req: IncomingMessage,
    res: ServerResponse,
    runId: string,
    options: FollowOptions,
    isResume = false,
  ): Promise<void> {
    let opened: OpenedRun
    try {
      const lastEventId =
        options.lastEventId ?? readLastEventId(req.headers['last-event-id'], req.url ?? '')
      opened = await this.open(runId, lastEventId)
    } catch (err) {
      return nodeError(req, res, err)
    }
    if (isResume) this.metrics.resumed++
    const resumeUrl = options.resumeUrl ?? new URL(req.url ?? '/', 'http://localhost').pathname
    const headers = this.streamOptions(runId, resumeUrl, options.headers)
    if (opened.status === 'finished') {
      opened.close()
      discardBody(req, res)
      res.writeHead(204, headers.headers).end()
      return
    }
    const open = options.openStream ?? createEventStream
    const stream = open(req, res, headers)
    this.pipe(opened, stream, options.format ?? sseRunFormat)
    if (res.destroyed || req.socket?.destroyed) stream.gone()
  }

  private async resumeWeb(
    request: Request,
    runId: string,
    options: FollowOptions,
    isResume = false,
  ) {
    let opened: OpenedRun
    try {
      const lastEventId =
        options.lastEventId ?? readLastEventId(request.headers.get('last-event-id'), request.url)
      opened = await this.open(runId, lastEventId)
    } catch (err) {
      return webError(err)
    }
    if (isResume) this.metrics.resumed++
    const resumeUrl = options.resumeUrl ?? new URL(request.url).pathname
    const o = this.streamOptions(runId, resumeUrl, options.headers)
    if (opened.status === 'finished') {
      opened.close()
      return new Response(null, { status: 204, headers: o.headers })
    }
    const { stream, response } = createWebEventStream(request, o)
    this.pipe(opened, stream, options.format ?? sseRunFormat)
    return response
  }

  /** A follower on an event stream: formatted events in, completed at the terminal event. */
  private pipe(opened: OpenedRun, stream: EventStream, format: RunFormat): void {
    const release = this.follow(opened.runId)
    stream.onCompletion((reason) => {
      opened.close()
      release(reason === 'disconnect' || reason === 'slow-consumer')
    })
    opened.start({
      event(e) {
        if (stream.isClosed) return
        const text = format(e)
        // Not awaited: a slow follower is cut at maxBufferedBytes and resumes; it never slows the run.
        if (text !== null) stream.write(text).catch(noop)
      },
      end() {
        stream.complete()
      },
      detach() {
        stream.complete()
      },
    })
  }

  /** Stop producing: local runs end with `done` `{"reason":"lost"}` (the node is going away); followers are released. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // Our own runs first: their followers (here and elsewhere) get the terminal event.
    await Promise.all(
      [...this.local.values()].map((run) =>
        run.finish('lost', { message: 'The node producing this run shut down.' }),
      ),
    )
    // Followers of runs produced elsewhere: end their streams; they resume on another node.
    for (const detach of [...this.opened]) detach()
  }
}

function safeFormat(
  format: (e: unknown) => { error: string; message: string },
  err: unknown,
): { error: string; message: string } {
  try {
    return format(err)
  } catch {
    return defaultFormatError(err)
  }
}

function isWebRequest(v: unknown): v is Request {
  return (
    typeof (v as Request)?.headers?.get === 'function' && typeof (v as Request).url === 'string'
  )
}

function errorBody(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof SluiceError && typeof err.details.status === 'number') {
    return { status: err.details.status, code: err.code, message: err.message }
  }
  return { status: 500, code: 'INTERNAL', message: 'The server failed to handle this run request.' }
}

function webError(err: unknown): Response {
  const { status, code, message } = errorBody(err)
  return new Response(JSON.stringify({ error: code, message }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}

function nodeError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const { status, code, message } = errorBody(err)
  discardBody(req, res)
  sendJsonError(res, status, code, message)
}

/** A runs manager over a store (the hub's, or one of its own); `sluice serve` composes it with the hub. */
export function createRuns(store: Store, options: RunsOptions = {}): Runs {
  return new Runs(store, options)
}
