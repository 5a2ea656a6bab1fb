/**
 * Runs over HTTP, for node:http (`req, res`) and Web `Request`/`Response`:
 * start a run and stream it as the response, resume it (`GET` on its resume
 * URL, replay after Last-Event-ID then live), stop it (`DELETE`). The
 * `Runs` methods `run`, `resume` and `stopRun` are these functions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SluiceError } from '../protocol/errors.js'
import { RESUME_URL_HEADER } from '../protocol/headers.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import { readLastEventId } from '../server/event-stream.js'
import { discardBody, errorResponse, sendSluiceError } from '../server/http-json.js'
import { createEventStream } from '../server/node.js'
import { DEFAULT_HEARTBEAT_MS } from '../server/options.js'
import { createWebEventStream } from '../server/web.js'
import { sseRunFormat } from './formats.js'
import { idempotentRunId, isRunEventId, noop, parseRunEventId } from './log.js'
import type { RunMetrics } from './metrics.js'
import type {
  FollowOptions,
  OpenedRun,
  RunFormat,
  RunOptions,
  RunProducer,
  RunsOptions,
  StartedRun,
  StopResult,
} from './types.js'

export { RESUME_URL_HEADER }
export const RUN_ID_HEADER = 'Sluice-Run-Id'

/** What the HTTP side needs of a runs manager. */
export interface RunsCore {
  readonly options: Readonly<RunsOptions>
  readonly metrics: RunMetrics
  open(runId: string, lastEventId: string, subject?: string | null): Promise<OpenedRun>
  stop(runId: string, subject?: string | null): Promise<StopResult>
  /** Start a run for a request to `path` (its resume URL defaults to `<path>/<runId>`). */
  startFor(producer: RunProducer, options: RunOptions, path: string): Promise<StartedRun>
  /** Count a follower of a run on this node (its stream's buffer counts in the budget). Returns the release. */
  follow(
    runId: string,
    stream?: { readonly bufferedBytes: number },
  ): (disconnected: boolean) => void
}

export function isWebRequest(v: unknown): v is Request {
  return (
    typeof (v as Request)?.headers?.get === 'function' && typeof (v as Request).url === 'string'
  )
}

/**
 * Start a run and stream it as the response (Web); or, when the request's
 * Last-Event-ID names a run (a client re-sending its POST to resume), or its
 * idempotency key names one already started, continue that run instead.
 */
export async function runWeb(
  core: RunsCore,
  request: Request,
  producer: RunProducer,
  options: RunOptions = {},
): Promise<Response> {
  const path = new URL(request.url).pathname
  const lastEventId = readLastEventId(
    request.headers.get('last-event-id'),
    request.url,
    isRunEventId,
  )
  let target: RunTarget
  try {
    target = await startOrContinue(core, producer, options, path, lastEventId)
  } catch (err) {
    return webError(err)
  }
  return resumeWeb(core, request, target.runId, followOptions(options, target), target.resumed)
}

/** Start a run and stream it as the response, or continue the run the request names (node:http; see `runWeb`). */
export async function runNode(
  core: RunsCore,
  req: IncomingMessage,
  res: ServerResponse,
  producer: RunProducer,
  options: RunOptions = {},
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  const lastEventId = readLastEventId(req.headers['last-event-id'], req.url ?? '', isRunEventId)
  let target: RunTarget
  try {
    target = await startOrContinue(core, producer, options, path, lastEventId)
  } catch (err) {
    return nodeError(req, res, err)
  }
  const follow = { ...followOptions(options, target), openStream: options.openStream }
  return resumeNode(core, req, res, target.runId, follow, target.resumed)
}

/** The run a starting request streams: a new one, or the one it names. */
interface RunTarget {
  runId: string
  resumeUrl: string
  /** Where to resume ('' from the start). */
  lastEventId: string
  /** Continued rather than started. */
  resumed: boolean
}

function followOptions(options: RunOptions, target: RunTarget): FollowOptions {
  return {
    lastEventId: target.lastEventId,
    format: options.format,
    headers: options.headers,
    resumeUrl: target.resumeUrl,
    // The one starting a run owns it; one continuing a run must be its owner (when it has one).
    subject: target.resumed ? options.owner : undefined,
  }
}

/** Where a run is resumed: `options.resumeUrl`, or the starting request's path + `/<runId>`. */
function resumeUrlFor(options: RunOptions, path: string, runId: string): string {
  const r = options.resumeUrl
  if (typeof r === 'function') return r(runId)
  if (typeof r === 'string') return r
  return `${path.endsWith('/') ? path : path + '/'}${runId}`
}

/**
 * A starting request (POST) continues the run its Last-Event-ID names
 * (`<runId>:<n>`: a spec client reconnecting re-sends its POST with it), or
 * the run its idempotency key started; otherwise it starts a run.
 */
async function startOrContinue(
  core: RunsCore,
  producer: RunProducer,
  options: RunOptions,
  path: string,
  lastEventId: string,
): Promise<RunTarget> {
  const named = parseRunEventId(lastEventId)
  if (named) {
    const resumeUrl = resumeUrlFor(options, path, named.runId)
    return { runId: named.runId, resumeUrl, lastEventId, resumed: true }
  }
  const key = options.idempotencyKey
  const id = key === undefined ? options.id : await idempotentRunId(key, options.owner)
  const resumeUrl = (runId: string) => resumeUrlFor(options, path, runId)
  try {
    const started = await core.startFor(producer, { ...options, id, resumeUrl }, path)
    return { runId: started.runId, resumeUrl: started.resumeUrl, lastEventId: '', resumed: false }
  } catch (err) {
    if (key === undefined || !(err instanceof SluiceError) || err.code !== 'RUN_EXISTS') throw err
    // Started already by an earlier request with this key: follow it from the start.
    return { runId: id!, resumeUrl: resumeUrl(id!), lastEventId: '', resumed: true }
  }
}

/** `DELETE` on a resume URL (Web): 200 `{"runId","reason","stopped"}`, or 404. */
export function stopWeb(core: RunsCore, runId: string, subject?: string | null): Promise<Response> {
  return core.stop(runId, subject).then(
    (r) =>
      new Response(JSON.stringify(r), {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
    webError,
  )
}

/** `DELETE` on a resume URL (node:http). */
export function stopNode(
  core: RunsCore,
  req: IncomingMessage,
  res: ServerResponse,
  runId: string,
  subject?: string | null,
): Promise<void> {
  discardBody(req, res)
  return core.stop(runId, subject).then(
    (r) => {
      const body = JSON.stringify(r)
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      })
      res.end(body)
    },
    (err) => nodeError(req, res, err),
  )
}

function streamOptions(
  options: Readonly<RunsOptions>,
  runId: string,
  resumeUrl: string,
  extra?: Record<string, string>,
) {
  return {
    headers: {
      ...extra,
      [RESUME_URL_HEADER]: resumeUrl,
      [RUN_ID_HEADER]: runId,
      'access-control-expose-headers': `${RESUME_URL_HEADER}, ${RUN_ID_HEADER}`,
    },
    retry: options.retry ?? 1000,
    heartbeat: options.heartbeat ?? DEFAULT_HEARTBEAT_MS,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
  } satisfies EventStreamOptions
}

/** Replay then follow a run as the response (node:http); `isResume` counts it in the metrics. */
export async function resumeNode(
  core: RunsCore,
  req: IncomingMessage,
  res: ServerResponse,
  runId: string,
  options: FollowOptions,
  isResume = false,
): Promise<void> {
  let opened: OpenedRun
  try {
    const lastEventId =
      options.lastEventId ??
      readLastEventId(req.headers['last-event-id'], req.url ?? '', isRunEventId)
    opened = await core.open(runId, lastEventId, options.subject)
  } catch (err) {
    return nodeError(req, res, err)
  }
  if (isResume) core.metrics.resumed++
  const resumeUrl = options.resumeUrl ?? new URL(req.url ?? '/', 'http://localhost').pathname
  const headers = streamOptions(core.options, runId, resumeUrl, options.headers)
  if (opened.status === 'finished') {
    opened.close()
    discardBody(req, res)
    res.writeHead(204, headers.headers).end()
    return
  }
  const open = options.openStream ?? createEventStream
  const stream = open(req, res, headers)
  pipe(core, opened, stream, options.format ?? sseRunFormat)
  if (res.destroyed || req.socket?.destroyed) stream.gone()
}

/** Replay then follow a run as the response (Web). */
export async function resumeWeb(
  core: RunsCore,
  request: Request,
  runId: string,
  options: FollowOptions,
  isResume = false,
): Promise<Response> {
  let opened: OpenedRun
  try {
    const lastEventId =
      options.lastEventId ??
      readLastEventId(request.headers.get('last-event-id'), request.url, isRunEventId)
    opened = await core.open(runId, lastEventId, options.subject)
  } catch (err) {
    return webError(err)
  }
  if (isResume) core.metrics.resumed++
  const resumeUrl = options.resumeUrl ?? new URL(request.url).pathname
  const o = streamOptions(core.options, runId, resumeUrl, options.headers)
  if (opened.status === 'finished') {
    opened.close()
    return new Response(null, { status: 204, headers: o.headers })
  }
  const { stream, response } = createWebEventStream(request, o)
  pipe(core, opened, stream, options.format ?? sseRunFormat)
  return response
}

/** A follower on an event stream: formatted events in, completed at the terminal event. */
function pipe(core: RunsCore, opened: OpenedRun, stream: EventStream, format: RunFormat): void {
  const release = core.follow(opened.runId, stream)
  stream.onCompletion((reason) => {
    opened.close()
    release(reason === 'disconnect' || reason === 'slow-consumer')
  })
  opened.start({
    event(e) {
      if (stream.isClosed) return
      const text = format(e)
      // The follower awaits this during a replay only (the client's pace); live, a slow
      // follower is cut at maxBufferedBytes and resumes: it never slows the run.
      if (text !== null) return stream.write(text).catch(noop)
    },
    end() {
      stream.complete()
    },
    detach() {
      stream.complete()
    },
  })
}

function webError(err: unknown): Response {
  return errorResponse(err)
}

function nodeError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  discardBody(req, res)
  sendSluiceError(res, err)
}
