/**
 * `POST /chat`: the guide's main use case, "the client sends one message, the
 * server streams the answer", answered by a built-in deterministic model
 * simulator so every client, proxy and browser test has a real stream to read.
 *
 * Request: a JSON object with `message` (or `name`, or `data`, as the guide's
 * Python and Vue clients send), or any other body as the message text itself,
 * whatever its content type (the guide's Java client posts `Hello WOrld!` raw
 * with `Content-Type: application/json`, which its Spring server binds as a
 * String). A body that starts with `{` must be a valid JSON object. Query parameters:
 *
 *   delay=MS        pause before each token (default 30; 0..60000)
 *   mode=chars      echo the message one character per token (the guide's SseEmitter example);
 *   mode=words      (default) a deterministic answer, a word per token
 *   tokens=N        words mode: exactly N tokens (1..100000), varied sentences, whole words
 *                   (produced one at a time: see model.ts)
 *   fail=N          fail after N tokens (to see `event: error`)
 *   format=envelope the guide's `data:{"code":200,"data":...}` lines, ending with `data:{"code":-200}`
 *   heartbeat=MS    heartbeat interval (default 5000)
 *   stopOnDisconnect=MS|true|false  stop the answer when its client left and nobody resumed it
 *                   within MS (`true` = 0 = at once; `false` = as late as the server allows).
 *                   Default: SSE answers outlive their connection, to be resumed (GET /chat/:runId),
 *                   for up to the server's `--run-abandon` (30 s); envelope answers stop at once,
 *                   since the guide's line-by-line clients (Python, Java) get no ids or resume URL
 *                   and so can never resume them. No value outlasts `--run-abandon`.
 *
 * Each answer is a resumable run (docs/runs.md): `event: run` (id
 * `<runId>:0`), then `event: token` with ids `<runId>:1`, `<runId>:2`, ...,
 * then `event: done` with `{"reason":"complete","tokens":N}`; a failure is
 * `event: error` with `{"error","message"}` (a message safe to show a user),
 * then `done` `{"reason":"error"}`. A POST whose Last-Event-ID is a run's id
 * (a spec client reconnecting re-sends its POST) continues that run, 204 once
 * it has the final event; one with an `Idempotency-Key` used before
 * continues the run that key started.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { envelope } from '../protocol/envelope.js'
import { SluiceError } from '../protocol/errors.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import { readBody } from '../server/http-json.js'
import { envelopeRunFormat, type RunProducer, type Runs, sseRunFormat } from '../runs/index.js'
import { type ChatMode, simulateModel } from './model.js'

export { answerFor, answerTokens, type ChatMode, simulateModel, tokenize } from './model.js'

export type ChatFormat = 'sse' | 'envelope'

export interface ChatParams {
  message: string
  mode: ChatMode
  format: ChatFormat
  delay: number
  tokens?: number
  fail?: number
  heartbeat?: number
  /**
   * Stop the run this long after its last follower left; `false`: never (the run goes on, to be
   * resumed). Unset: the format's default (see `defaultStopOnDisconnect`).
   */
  stopOnDisconnect?: number | false
}

/** Live counters of the simulator (tests read them to see that a model stopped). */
export interface ChatStats {
  /** Answers started. */
  started: number
  /** Answers being generated now. */
  active: number
  /** Answers that ran to the end. */
  finished: number
  /** Answers stopped because their stream ended first (client gone, shutdown...). */
  aborted: number
  /** Answers that failed (`fail=N`). */
  failed: number
  /** Tokens produced, all answers. */
  tokens: number
}

export function createChatStats(): ChatStats {
  return { started: 0, active: 0, finished: 0, aborted: 0, failed: 0, tokens: 0 }
}

/**
 * The message of a `/chat` body: a JSON object's `message` (or `name`, or
 * `data`) string; any body that is not JSON (or is JSON but not an object or
 * array) is the message text itself. Empty, a malformed `{...}`, an array, or
 * an object without such a string: a 400.
 */
export function messageOf(text: string): string {
  const trimmed = text.trim()
  if (trimmed === '') {
    throw new SluiceError(
      'MISSING_MESSAGE',
      'The request body is empty; send the message as text, or a JSON object such as {"message":"Hello"}.',
    )
  }
  if (trimmed[0] !== '{' && trimmed[0] !== '[') return text
  let body: unknown
  try {
    body = JSON.parse(trimmed)
  } catch (cause) {
    throw new SluiceError(
      'INVALID_JSON',
      `The request body starts like JSON but is not valid JSON (${(cause as Error).message}); send a JSON object such as {"message":"Hello"}, or the message as plain text.`,
      {},
      { cause },
    )
  }
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<
    string,
    unknown
  >
  const message = [b.message, b.name, b.data].find((v) => typeof v === 'string')
  if (typeof message !== 'string') {
    throw new SluiceError(
      'MISSING_MESSAGE',
      'The JSON body has no `message` (or `name`, or `data`) string; send e.g. {"message":"Hello"}.',
    )
  }
  return message
}

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name)
  if (raw === null || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SluiceError(
      'BAD_REQUEST',
      `Query parameter \`${name}\` must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}.`,
    )
  }
  return n
}

/** `?stopOnDisconnect=`: ms, or `true` (0) / `false` (never); absent or empty: undefined. */
function stopOnDisconnectParam(url: URL): number | false | undefined {
  const raw = url.searchParams.get('stopOnDisconnect')
  if (raw === 'true') return 0
  if (raw === 'false') return false
  try {
    return intParam(url, 'stopOnDisconnect', 0, 3_600_000)
  } catch {
    throw new SluiceError(
      'BAD_REQUEST',
      `Query parameter \`stopOnDisconnect\` must be \`true\`, \`false\` or an integer from 0 to 3600000 (ms); got ${JSON.stringify(raw)}.`,
    )
  }
}

/**
 * How long a run waits after its client left before it stops, when the
 * request does not say (`?stopOnDisconnect=`): SSE answers carry ids and a
 * resume URL, so they keep running to be resumed (undefined: never stop);
 * envelope answers carry neither, so nobody can ever resume them, and they
 * stop at once (0) instead of generating for no one.
 */
export function defaultStopOnDisconnect(format: ChatFormat): number | undefined {
  return format === 'envelope' ? 0 : undefined
}

/** Read the query and body of a chat request; throws `SluiceError`s carrying an HTTP status. */
export async function readChatRequest(req: IncomingMessage, url: URL): Promise<ChatParams> {
  const modeRaw = url.searchParams.get('mode') ?? 'words'
  if (modeRaw !== 'chars' && modeRaw !== 'words') {
    throw new SluiceError('BAD_REQUEST', '`mode` must be `chars` or `words`.')
  }
  const formatRaw = url.searchParams.get('format') ?? 'sse'
  if (formatRaw !== 'sse' && formatRaw !== 'envelope') {
    throw new SluiceError('BAD_REQUEST', '`format` must be `sse` or `envelope`.')
  }
  const delay = intParam(url, 'delay', 0, 60_000) ?? 30
  const tokens = intParam(url, 'tokens', 1, 100_000)
  const fail = intParam(url, 'fail', 0, 100_000)
  const heartbeat = intParam(url, 'heartbeat', 0, 3_600_000)
  const stopOnDisconnect = stopOnDisconnectParam(url)
  const message = messageOf(await readBody(req))
  return {
    message,
    mode: modeRaw,
    format: formatRaw,
    delay,
    tokens,
    fail,
    heartbeat,
    stopOnDisconnect,
  }
}

/** The emitter options of a chat stream: envelope streams heartbeat and fail with envelope frames. */
export function chatStreamOptions(params: ChatParams): EventStreamOptions {
  const options: EventStreamOptions = {}
  if (params.heartbeat !== undefined) options.heartbeat = params.heartbeat
  if (params.format === 'envelope') {
    options.heartbeatFrame = envelope.keepalive()
    options.formatError = (err) => envelope.error(safeMessage(err))
  } else {
    options.formatError = (err) => ({
      event: 'error',
      data: JSON.stringify({ error: errorCode(err), message: safeMessage(err) }),
    })
  }
  return options
}

function errorCode(err: unknown): string {
  return err instanceof SluiceError ? err.code : 'MODEL_FAILED'
}

/** What a user may see: our own errors' messages, never a raw exception. */
function safeMessage(err: unknown): string {
  if (err instanceof SluiceError) return err.message
  return 'The model failed before finishing this answer; please try again.'
}

/**
 * The simulated model as a resumable run's producer (see src/runs/):
 * `event: token` per token, then `done` `{"reason":"complete","tokens":N}`;
 * a failure is `event: error` `{"error","message"}` then `done` `{"reason":"error"}`.
 */
export function chatRunProducer(
  params: ChatParams,
  stats: ChatStats = createChatStats(),
): RunProducer {
  return async (run, signal) => {
    let n = 0
    stats.started++
    stats.active++
    try {
      for await (const token of simulateModel(params, signal)) {
        n++
        stats.tokens++
        // Awaiting send() waits for the store, not for any reader: the answer is generated at the model's pace.
        await run.send({ event: 'token', data: token })
      }
      stats.finished++
      await run.complete({ tokens: n })
    } catch (err) {
      if (signal.aborted) {
        stats.aborted++
        return
      }
      stats.failed++
      throw err
    } finally {
      stats.active--
    }
  }
}

/** The `event: error` of a failed chat run: a message safe to show a user. */
export function chatRunError(err: unknown): { error: string; message: string } {
  return { error: errorCode(err), message: safeMessage(err) }
}

/** The format of a chat run's events, from `?format=` (envelope for the guide's line-by-line clients). */
export function chatRunFormat(url: URL) {
  return url.searchParams.get('format') === 'envelope' ? envelopeRunFormat : sseRunFormat
}

/** The request's `Idempotency-Key` header, if it has a non-empty one. */
function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const v = req.headers['idempotency-key']
  const key = Array.isArray(v) ? v[0] : v
  return key ? key : undefined
}

/** Options of the chat route. */
export interface ChatRouteOptions {
  /** Each answer is a resumable run on these (GET/DELETE /chat/:runId resume and stop it). */
  runs: Runs
  stats?: ChatStats
  /** Opens (and tracks) the stream, e.g. so that shutdown can end it. */
  openStream: (
    req: IncomingMessage,
    res: ServerResponse,
    options: EventStreamOptions,
  ) => EventStream
}

/** The `POST /chat` handler. Bad requests throw `SluiceError`s with an HTTP status for the router to answer. */
export function chatHandler(
  options: ChatRouteOptions,
): (req: IncomingMessage, res: ServerResponse, url: URL, owner?: string) => Promise<void> {
  const stats = options.stats ?? createChatStats()
  return async (req, res, url, owner) => {
    const params = await readChatRequest(req, url)
    const chatOptions = chatStreamOptions(params)
    await options.runs.run(req, res, chatRunProducer(params, stats), {
      format: chatRunFormat(url),
      formatError: chatRunError,
      resumeUrl: (runId) => `/chat/${runId}`,
      owner,
      // A re-sent POST with a run's Last-Event-ID continues that run anyway; a key covers POSTs without one.
      idempotencyKey: idempotencyKeyOf(req),
      stopOnDisconnect: params.stopOnDisconnect ?? defaultStopOnDisconnect(params.format),
      openStream: (rq, rs, o) =>
        options.openStream(rq, rs, {
          ...o,
          ...chatOptions,
          headers: o.headers,
          // A line-by-line JSON reader must see only `data:` lines.
          retry: params.format === 'envelope' ? undefined : o.retry,
        }),
    })
  }
}
