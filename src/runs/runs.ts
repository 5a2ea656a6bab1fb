/**
 * Resumable runs: a producer (an LLM answer, a long job) whose events go into
 * a store (the hub's kind: memory, or Redis to share it across nodes) under
 * the run's own id instead of straight to one socket. The request that
 * started it streams from the store; any later request replays what it missed
 * (`Last-Event-ID`) and follows the rest live, on any node that shares the
 * store. See docs/runs.md.
 *
 * `Runs` is the facade over one store: the run log's rules (log.ts), the
 * producing side (producer.ts), the following side (follower.ts), HTTP
 * (http.ts) and the output formats (formats.ts). It is a layer above the hub:
 * it takes a `Store`, and `sluice serve` composes the two.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SluiceError } from '../protocol/errors.js'
import type { Store } from '../hub/store.js'
import { DEFAULT_RUN_MEMORY, RunBudget } from './budget.js'
import { type FollowerHost, openFollower } from './follower.js'
import {
  isWebRequest,
  resumeNode,
  resumeWeb,
  type RunsCore,
  runNode,
  runWeb,
  stopNode,
  stopWeb,
} from './http.js'
import {
  checkRunId,
  DEFAULT_RUN_LEASE,
  DEFAULT_RUN_TTL,
  DONE_EVENT,
  doneReason,
  isTerminal,
  newRunId,
  checkOwner,
  ownedRunId,
  noop,
  RUN_EVENT,
  runTopic,
} from './log.js'
import { RunMetrics } from './metrics.js'
import { Presence } from './presence.js'
import { defaultFormatError, drive, LocalRun, type ProducerHost } from './producer.js'
import type {
  FollowOptions,
  StopOptions,
  OpenedRun,
  RunOptions,
  RunProducer,
  RunsOptions,
  StartedRun,
  StopResult,
} from './types.js'

/**
 * The runs over one store: `run(...)`, `resume(...)`, `stopRun(...)` over
 * HTTP, `start()`, `open()`, `stop()` for the lower level.
 */
export class Runs {
  readonly store: Store
  private readonly local = new Map<string, LocalRun>()
  /** Followers per run, and stopping the runs nobody follows (presence.ts). */
  private readonly presence: Presence
  /** The bytes this node's runs hold (budget.ts). */
  private readonly budget: RunBudget
  private readonly opened = new Set<() => void>()
  private closed = false
  readonly ttl: number
  readonly lease: number
  readonly options: Readonly<RunsOptions>
  /** Counters for `GET /metrics` (`metricsText()`). */
  readonly metrics = new RunMetrics()
  /** What the producing side, the following side and HTTP see of this manager. */
  private readonly producers: ProducerHost
  private readonly followerHost: FollowerHost
  private readonly core: RunsCore

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
    this.presence = new Presence(
      {
        store,
        lease: this.lease,
        isLocal: (runId) => this.local.has(runId),
        abandon: (runId) => {
          this.metrics.abandoned++
          this.stop(runId).catch(noop)
        },
      },
      options.abandonAfter,
    )
    this.budget = new RunBudget(
      options.memoryBudget ?? DEFAULT_RUN_MEMORY,
      options.maxEvents ?? Number.POSITIVE_INFINITY,
      () => this.presence.buffered(),
      (runId) => {
        this.metrics.evicted++
        store.delete(runTopic(runId)).catch(noop)
      },
    )
    this.producers = {
      store,
      metrics: this.metrics,
      budget: this.budget,
      seen: (runId) => this.presence.seen(runId),
      forget: (run) => this.forget(run),
    }
    this.followerHost = {
      store,
      ttl: this.ttl,
      lease: this.lease,
      metrics: this.metrics,
      isLocal: (runId) => this.local.has(runId),
      opened: this.opened,
    }
    this.core = {
      options,
      metrics: this.metrics,
      open: (runId, lastEventId, subject) => this.openRaw(runId, lastEventId, subject),
      stop: (runId, subject) => this.stop(runId, subject),
      startFor: (producer, o, path) => this.startFor(producer, o, path),
      follow: (runId, stream) => this.presence.follow(runId, stream),
    }
  }

  /** Runs this node is producing now. */
  get active(): number {
    return this.local.size
  }

  /** The runs' counters as Prometheus text (`sluice_runs_*`). */
  metricsText(): string {
    return this.metrics.text(this.active, this.memory)
  }

  /**
   * What this node's runs hold, in bytes against `memoryBudget`: the logs of
   * the runs it produced (running, and finished ones kept), estimated, and
   * what their followers' streams have buffered.
   */
  get memory(): { logs: number; buffers: number; limit: number } {
    return { logs: this.budget.logs, buffers: this.presence.buffered(), limit: this.budget.limit }
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
    this.checkRoom()
    const runId =
      options.id !== undefined
        ? checkRunId(options.id)
        : options.owner !== undefined
          ? await ownedRunId(options.owner)
          : newRunId()
    // A random id never collides; a chosen one may.
    if (
      this.local.has(runId) ||
      (options.id !== undefined && (await this.store.info(runTopic(runId))) !== null)
    ) {
      throw new SluiceError('RUN_EXISTS', `A run with id ${runId} exists already.`)
    }
    const resumeUrl =
      typeof options.resumeUrl === 'function'
        ? options.resumeUrl(runId)
        : (options.resumeUrl ?? `/runs/${runId}`)
    const ttl = options.ttl ?? this.ttl
    const run = new LocalRun(this.producers, runId, runTopic(runId), options.event ?? 'token', ttl)
    this.local.set(runId, run)
    this.budget.start(runId)
    this.presence.started(runId, options.stopOnDisconnect)
    try {
      await run.appendNumbered(RUN_EVENT, JSON.stringify({ runId, resumeUrl }))
      await run.watchForStop()
    } catch (err) {
      // Refused, not started (issue 17 row 17: a refused POST /chat counted as a started run).
      this.metrics.refused.store++
      run.settle('error', err, false)
      throw err
    }
    this.metrics.started++
    if (this.store.kind !== 'memory') run.startLease(this.lease)
    void drive(run, producer, options.formatError ?? defaultFormatError)
    return { runId, resumeUrl, ended: run.ended }
  }

  /**
   * Stop a run, wherever it is produced: writes `done` `{"reason":"stopped"}`
   * (unless it has ended already) and aborts the producer's signal (at once
   * here, through the store's live feed on another node).
   */
  async stop(runId: string, subject?: string | null): Promise<StopResult> {
    checkRunId(runId)
    await checkOwner(runId, subject)
    const local = this.local.get(runId)
    if (local && !local.finished) {
      await local.finish('stopped')
      return { runId, reason: 'stopped', stopped: true }
    }
    const topic = runTopic(runId)
    const read = await this.store.read([topic], 0)
    if (read.events.length === 0) {
      throw new SluiceError('RUN_NOT_FOUND', `No run ${runId} (it never existed or expired).`)
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
  async open(runId: string, lastEventId = '', subject?: string | null): Promise<OpenedRun> {
    const opened = await this.openRaw(runId, lastEventId, subject)
    // Counted as a follower from `start()` to `close()` (abandonAfter, stopOnDisconnect).
    let release: ((disconnected: boolean) => void) | undefined
    return {
      ...opened,
      start: (output) => {
        release ??= this.presence.follow(runId)
        opened.start(output)
      },
      close: () => {
        opened.close()
        release?.(true)
      },
    }
  }

  /** A follower not counted by presence (HTTP counts its own, with its stream). */
  private async openRaw(
    runId: string,
    lastEventId: string,
    subject?: string | null,
  ): Promise<OpenedRun> {
    if (this.closed) throw new SluiceError('STREAM_CLOSED', 'The runs manager is closed.')
    checkRunId(runId)
    await checkOwner(runId, subject)
    return openFollower(this.followerHost, runId, lastEventId)
  }

  private forget(run: LocalRun): void {
    if (this.local.get(run.runId) === run) this.local.delete(run.runId)
    this.presence.ended(run.runId)
    this.budget.finish(run.runId, run.ttl)
  }

  /** Refuse a new run when this node produces `maxActive` already, or its runs hold the budget (503 + Retry-After). */
  private checkRoom(): void {
    // A client told to come back: after the time in which an abandoned run stops, or 10 s.
    const retryAfter = Math.max(1, Math.ceil((this.options.abandonAfter ?? 10_000) / 1000))
    const max = this.options.maxActive ?? 10_000
    if (this.local.size >= max) {
      this.metrics.refused.limit++
      throw new SluiceError(
        'RUN_LIMIT',
        `This node is already producing ${max} runs (maxActive); retry in ${retryAfter} s.`,
        { maxActive: max, retryAfter },
      )
    }
    if (!this.budget.room()) {
      this.metrics.refused.budget++
      throw new SluiceError(
        'RUN_BUDGET',
        `This node's memory for runs is full (${this.budget.limit} bytes, memoryBudget); retry in ${retryAfter} s.`,
        { memoryBudget: this.budget.limit, retryAfter },
      )
    }
  }

  /** Start a run for a request to `path`: its resume URL defaults to `<path>/<runId>`. */
  private startFor(producer: RunProducer, options: RunOptions, path: string): Promise<StartedRun> {
    const resumeUrl =
      options.resumeUrl ?? ((id: string) => `${path.endsWith('/') ? path : path + '/'}${id}`)
    return this.start(producer, { ...options, resumeUrl })
  }

  // ---- HTTP: node:http and Web Request/Response (http.ts) ----

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
    if (isWebRequest(a)) return runWeb(this.core, a, b as RunProducer, c as RunOptions | undefined)
    return runNode(this.core, a, b as ServerResponse, c as RunProducer, d)
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
    if (isWebRequest(a)) {
      return resumeWeb(this.core, a, b as string, (c as FollowOptions) ?? {}, true)
    }
    return resumeNode(this.core, a, b as ServerResponse, c as string, d ?? {}, true)
  }

  /** Stop a run: `DELETE` on its resume URL. 200 `{"runId","reason","stopped"}`, or 404. */
  stopRun(request: Request, runId: string, options?: StopOptions): Promise<Response>
  stopRun(
    req: IncomingMessage,
    res: ServerResponse,
    runId: string,
    options?: StopOptions,
  ): Promise<void>
  stopRun(
    a: Request | IncomingMessage,
    b: ServerResponse | string,
    c?: string | StopOptions,
    d?: StopOptions,
  ): Promise<Response | void> {
    if (isWebRequest(a)) return stopWeb(this.core, b as string, (c as StopOptions)?.subject)
    return stopNode(this.core, a, b as ServerResponse, c as string, d?.subject)
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
    this.presence.close()
  }
}

/** A runs manager over a store (the hub's, or one of its own); `sluice serve` composes it with the hub. */
export function createRuns(store: Store, options: RunsOptions = {}): Runs {
  return new Runs(store, options)
}
