/**
 * The types of runs: what a producer sends, what a follower receives, the
 * options of the manager, of one run and of one follower.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import type { RunEndReason } from './log.js'

/** An event of a run as a follower receives it. */
export interface RunEvent {
  /**
   * The SSE id `<runId>:<n>`, n the event's number in the run (`0` for `run`):
   * what `Last-Event-ID` resumes from, on the resume URL or a re-sent POST.
   * '' on notices (sent without an id line, so the client keeps its last id).
   */
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
  /** Most runs this node produces at once; more are refused with 503 RUN_LIMIT (and Retry-After). Default 10 000. */
  maxActive?: number
  /**
   * Bytes this node's runs may hold: their logs (running, and finished ones
   * kept for resuming) and their followers' buffers, estimated (budget.ts).
   * When it is reached, finished runs are dropped oldest first; then a new
   * run is refused with 503 RUN_BUDGET (and Retry-After) and a running one
   * that sends fails with RUN_BUDGET. Default 128 MiB.
   */
  memoryBudget?: number
  /** Events the store keeps per run (its `maxLength`), so the budget counts only what it holds. Default: all. */
  maxEvents?: number
  /**
   * Stop any run nobody follows, on any node, for this long (ms): from its
   * start, and after its last follower leaves. Caps each run's
   * `stopOnDisconnect`. Default: never (a run stops when it asks to);
   * `sluice serve`: 30 s.
   */
  abandonAfter?: number
  /** Reconnection delay sent to clients (`retry:`), ms. Default 1000. */
  retry?: number
  /** Heartbeat interval of follower streams (ms). Default 5 000. */
  heartbeat?: number
  /** Bytes a follower may fall behind before it is cut (it then resumes). Default 1 MiB. */
  maxBufferedBytes?: number
}

export interface RunOptions {
  /**
   * The run's id (1-128 of `A-Za-z0-9_-`). Default: 128 random bits as 32
   * hex characters (with an `owner`, followed by `-` and a hash binding it).
   */
  id?: string
  /**
   * Who owns the run (a token's subject): only they may follow or stop it
   * where the follower's or stopper's `subject` is checked. Bound into the
   * generated id, so every node can check it with nothing stored. Not with `id`.
   */
  owner?: string
  /**
   * Where the run is resumed and stopped. A function gets the id. Default:
   * the starting request's path + `/<runId>` (POST /chat -> /chat/<runId>).
   */
  resumeUrl?: string | ((runId: string) => string)
  /**
   * Over HTTP (`run()`): an idempotency key, e.g. the request's
   * `Idempotency-Key` header. The run's id is derived from it (and from
   * `owner`, which scopes it), so a request with a key already used
   * continues that run (replayed from the start, or after its Last-Event-ID)
   * instead of starting another; good for as long as the run is kept (its TTL).
   */
  idempotencyKey?: string
  /** Event name of yielded or sent strings. Default `token`. */
  event?: string
  /** Override the manager's TTL for this run (ms). */
  ttl?: number
  /**
   * Stop the run when its last follower on this node disconnects and no one
   * has come back after this many ms (`true` = 0). Default: never (or the
   * manager's `abandonAfter`, which caps it); a disconnect leaves the run
   * going, to be resumed. Followers on other nodes sharing the store count.
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

export interface StopOptions {
  /** The requester's verified subject, checked against the run's `owner` (as `FollowOptions.subject`). */
  subject?: string | null
}

export interface FollowOptions {
  /** Resume after this id ('' replays the whole run). Default: the request's `Last-Event-ID` header or `?lastEventId=`. */
  lastEventId?: string
  format?: RunFormat
  headers?: Record<string, string>
  /** The resume URL to name in the response header (default: the request's path). */
  resumeUrl?: string
  /**
   * The requester's verified subject, to check against the run's `owner`
   * (null: the request has none; undefined: no check). A run without an
   * owner may be followed by anyone with its id.
   */
  subject?: string | null
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
  /**
   * One event. A promise (the write's, settled when the client has taken it
   * in) paces the replay: the next replayed event waits for it, so a replay
   * of any length follows the client's speed. Live events never wait.
   */
  event(e: RunEvent): unknown
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
