/**
 * The hub over HTTP, for node:http and for Web `Request`/`Response`:
 *
 *   GET  /events?topic=a&topic=b   subscribe (Last-Event-ID header or ?lastEventId= resumes)
 *   POST /publish                  JSON {"topic","data","event"?} -> {"id"}
 *   GET  /metrics                  Prometheus text
 *   OPTIONS (either route)         CORS preflight
 *
 * Who may publish and subscribe, before any body is read: guard.ts.
 *
 * Errors are 4xx with `{"error":"<CODE>","message":"..."}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { encodeEventBytes } from '../protocol/encoder.js'
import { POSITION_EVENT } from '../protocol/headers.js'
import { SluiceError } from '../protocol/errors.js'
import type {
  CloseReason,
  CompletionTarget,
  EventStream,
  EventStreamOptions,
} from '../server/event-stream.js'
import { readLastEventId, streamStats } from '../server/event-stream.js'
import {
  discardBody,
  errorAnswer,
  readBody,
  readWebBody,
  sendJsonError,
  sendSluiceError,
} from '../server/http-json.js'
import { createEventStream } from '../server/node.js'
import { DEFAULT_HEARTBEAT_MS } from '../server/options.js'
import { createWebEventStream } from '../server/web.js'
import { corsHeaders, preflight } from './cors.js'
import { authorizeMetrics, publishGuard, REFUSED, tokenSource } from './guard.js'
import { checkTopic, type HubCore, type OpenedSubscription } from './contract.js'
import { isHubId } from './ids.js'
import { parsePublishBody } from './publish-body.js'
import type { StoredEvent } from './store.js'
import { type HubEvent, Member, type SubscriptionOutput } from './subscription.js'

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024

/** A request, whichever runtime it came from. */
interface HubRequest {
  method: string
  url: URL
  header(name: string): string | null
  text(limit: number): Promise<string>
}

type Answer =
  | { kind: 'json'; status: number; body: unknown; headers: Record<string, string> }
  | { kind: 'text'; status: number; body: string; headers: Record<string, string> }
  | {
      kind: 'sse'
      opened: OpenedSubscription
      headers: Record<string, string>
      /** When the subscriber's token expires (ms since the epoch): the stream ends then. */
      expiresAt?: number
    }

export interface HubHandlerOptions {
  /** Path prefix the routes live under (default '' : `/events`, `/publish`, `/metrics`). */
  basePath?: string
}

/** Works as a node:http listener (with an optional `next`) and as a fetch handler. */
export interface HubHandler {
  (request: Request): Promise<Response>
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void
}

/** A refusal (a `SluiceError` with a status) as the one error answer, counted; anything else is rethrown. */
function refusal(hub: HubCore, err: unknown, headers: Record<string, string>): Answer {
  const answer = errorAnswer(err)
  if (!answer.exposed) throw err
  hub.metrics.refuse(REFUSED[answer.body.error] ?? answer.body.error.toLowerCase())
  return {
    kind: 'json',
    status: answer.status,
    body: answer.body,
    headers: { ...headers, ...answer.headers },
  }
}

/** Route one request; null when the path is not the hub's. */
async function route(hub: HubCore, req: HubRequest, base: string): Promise<Answer | null> {
  const path = req.url.pathname
  if (!path.startsWith(base)) return null
  const name = path.slice(base.length)
  if (name !== '/events' && name !== '/publish' && name !== '/metrics') return null
  const origin = req.header('origin')
  const cors = hub.options.cors
  const headers = corsHeaders(cors, origin)
  try {
    if (req.method === 'OPTIONS') {
      return { kind: 'json', status: 204, body: null, headers: preflight(cors, origin) }
    }
    const expected = name === '/publish' ? 'POST' : 'GET'
    const method = req.method === 'HEAD' ? 'GET' : req.method
    if (method !== expected) {
      hub.metrics.refuse('method_not_allowed')
      return {
        kind: 'json',
        status: 405,
        body: {
          error: 'METHOD_NOT_ALLOWED',
          message: `${req.method} is not allowed on ${path}; use ${expected}.`,
        },
        headers: { ...headers, allow: expected },
      }
    }
    if (name === '/metrics') {
      await authorizeMetrics(hub, req)
      return {
        kind: 'text',
        status: 200,
        body: hub.metrics.text() + streamMetrics(),
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      }
    }
    if (name === '/publish') return await publish(hub, req, headers)
    return await events(hub, req, headers)
  } catch (err) {
    return refusal(hub, err, headers)
  }
}

async function publish(
  hub: HubCore,
  req: HubRequest,
  headers: Record<string, string>,
): Promise<Answer> {
  const from = publishGuard(hub, req)
  const text = await req.text(hub.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)
  const { topic, data, event } = parsePublishBody(text)
  const auth = await hub.authorizer
  await auth.check('publish', [topic], from)
  const id = await hub.publish(topic, data, event ? { event } : {})
  return { kind: 'json', status: 200, body: { id }, headers }
}

async function events(
  hub: HubCore,
  req: HubRequest,
  headers: Record<string, string>,
): Promise<Answer> {
  const topics = req.url.searchParams.getAll('topic')
  const max = hub.options.maxTopics ?? 64
  // Counted and checked before any is matched against the auth patterns.
  if (topics.length === 0 || new Set(topics).size > max) {
    throw new SluiceError('BAD_REQUEST', `Subscribe to 1-${max} topics: /events?topic=a&topic=b.`, {
      count: topics.length,
    })
  }
  for (const t of topics) checkTopic(t)
  const auth = await hub.authorizer
  const claims = await auth.check('subscribe', topics, tokenSource(hub, req))
  const lastEventId = readLastEventId(req.header('last-event-id'), req.url.href, isHubId)
  const opened = await hub.open(topics, lastEventId, new StreamSubscriber(hub))
  const h = { ...headers }
  if (opened.history) h['sluice-history'] = opened.history
  const expiresAt = claims?.exp === undefined ? undefined : claims.exp * 1000
  return { kind: 'sse', opened, headers: h, expiresAt }
}

function streamOptions(hub: HubCore, headers: Record<string, string>): EventStreamOptions {
  const o = hub.options
  return {
    headers,
    retry: o.retry ?? 1000,
    heartbeat: o.heartbeat ?? DEFAULT_HEARTBEAT_MS,
    maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
  }
}

const noop = (): void => {}

/**
 * A subscriber over HTTP: the hub's subscription object is also its output
 * onto the event stream (shared bytes in, counted) and what the stream tells
 * when it ends (`streamClosed`). So a connection holds no closure of the
 * hub's, and one object of its own beside the stream (see "Memory per idle
 * connection" in docs/benchmarks.md).
 */
class StreamSubscriber extends Member<HubCore> implements SubscriptionOutput, CompletionTarget {
  /** Set when the stream opens (after the history was read: its headers say how it went). */
  stream: EventStream | null = null

  event(_e: StoredEvent, bytes: Uint8Array, replayed: boolean): void | Promise<void> {
    const stream = this.stream!
    if (stream.isClosed) return
    this.hub.metrics.delivered++
    // A replay is this subscriber's alone: follow its pace.
    if (replayed) return stream.write(bytes).catch(noop)
    // Live: not awaited, a slow subscriber must not hold up the others. Its
    // buffer is capped by maxBufferedBytes, past which the stream is cut.
    // No .catch() (one promise per subscriber per event): the stream is
    // open, so write() resolves, waits for drain (never rejects), or cuts a
    // slow consumer with a rejection it has already marked handled.
    stream.write(bytes)
  }

  events(events: readonly StoredEvent[], bytes: Uint8Array): void {
    const stream = this.stream!
    if (stream.isClosed) return
    this.hub.metrics.delivered += events.length
    stream.write(bytes)
  }

  notice(_e: HubEvent, bytes: Uint8Array): void {
    const stream = this.stream!
    if (!stream.isClosed) stream.write(bytes).catch(noop)
  }

  position(id: string): void {
    const stream = this.stream!
    // A named event with data: clients that record only the ids of dispatched events
    // record it too (eventsource 4, eventsource-client), and none sees empty data.
    const data = JSON.stringify({ position: id })
    if (!stream.isClosed)
      stream.write(encodeEventBytes({ event: POSITION_EVENT, id, data })).catch(noop)
  }

  overflow(): void {
    this.hub.metrics.slowConsumerDisconnects++
    this.stream!.completeWithError(
      new SluiceError(
        'SLOW_CONSUMER',
        'Too many live events arrived while history was replayed; reconnect with your last id to continue.',
      ),
    )
  }

  /**
   * The hub is closing (the server shuts down): the client gets the
   * SHUTTING_DOWN error frame docs/server.md promises, then the end; it
   * reconnects with its last id to the next server.
   */
  end(): void {
    this.stream?.completeWithError(
      new SluiceError('SHUTTING_DOWN', 'The server is shutting down; reconnect shortly.'),
    )
  }

  /** Timer ending the stream when the subscriber's token expires (only for tokens with `exp`). */
  private expiry: ReturnType<typeof setTimeout> | undefined

  /**
   * End the stream when the token expires (issue 17 row 17: it kept receiving):
   * an `event: error` UNAUTHORIZED, then the end; the client reconnects with a
   * fresh token and its last id, losing nothing.
   */
  expireAt(at: number): void {
    const ms = Math.max(0, Math.min(at - Date.now(), 2 ** 31 - 1))
    this.expiry = setTimeout(() => {
      this.stream?.completeWithError(
        new SluiceError('UNAUTHORIZED', 'The token expired; reconnect with a new one.'),
      )
    }, ms)
    this.expiry.unref?.()
  }

  /** The stream ended, whichever way: leave the hub. */
  streamClosed(reason: CloseReason): void {
    if (this.expiry !== undefined) clearTimeout(this.expiry)
    this.close()
    const m = this.hub.metrics
    m.connections--
    if (reason === 'slow-consumer') m.slowConsumerDisconnects++
  }
}

/** Wire a subscription to an event stream: shared bytes in, counted, closed with it. */
function run(
  hub: HubCore,
  opened: OpenedSubscription,
  stream: EventStream,
  expiresAt?: number,
): void {
  const m = hub.metrics
  m.connections++
  m.connectionsTotal++
  // Nothing of `opened` is kept: its start(), with the replay it captured, is
  // garbage once started; the stream and the hub's feeds hold the subscriber.
  const sub = opened.sub as StreamSubscriber
  sub.stream = stream
  stream.addCompletion(sub)
  if (expiresAt !== undefined) sub.expireAt(expiresAt)
  opened.start(sub)
}

function streamMetrics(): string {
  const lines = [
    '# HELP sluice_streams_open Event streams open now (all routes).',
    '# TYPE sluice_streams_open gauge',
    `sluice_streams_open ${streamStats.open}`,
    '# HELP sluice_streams_closed_total Event streams ended, by reason.',
    '# TYPE sluice_streams_closed_total counter',
  ]
  for (const [reason, n] of Object.entries(streamStats.closed)) {
    lines.push(`sluice_streams_closed_total{reason="${reason}"} ${n}`)
  }
  return lines.join('\n') + '\n'
}

// ---- node:http ----

function nodeRequest(req: IncomingMessage): HubRequest {
  return {
    method: req.method ?? 'GET',
    url: new URL(req.url ?? '/', 'http://localhost'),
    header(name) {
      // HTTP/2 names the host :authority (node:http2's compatibility request has no host header).
      const v = req.headers[name] ?? (name === 'host' ? req.headers[':authority'] : undefined)
      return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
    },
    text: (limit) => readBody(req, limit),
  }
}

/** Serve a hub route on node:http; false when the path is not the hub's. */
export async function handleNode(
  hub: HubCore,
  req: IncomingMessage,
  res: ServerResponse,
  base = '',
): Promise<boolean> {
  let answer: Answer | null
  try {
    answer = await route(hub, nodeRequest(req), base)
  } catch (err) {
    discardBody(req, res)
    sendSluiceError(res, err)
    throw err
  }
  if (!answer) return false
  if (answer.kind === 'sse') {
    const stream = createEventStream(req, res, streamOptions(hub, answer.headers))
    run(hub, answer.opened, stream, answer.expiresAt)
    // The client may have left while history was read.
    if (res.destroyed || req.socket?.destroyed) stream.gone()
    return true
  }
  discardBody(req, res)
  if (answer.kind === 'json') {
    if (answer.body === null) {
      res.writeHead(answer.status, answer.headers).end()
    } else {
      const body = JSON.stringify(answer.body)
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      })
      res.end(body)
    }
  } else {
    res.writeHead(answer.status, answer.headers).end(answer.body)
  }
  return true
}

// ---- Web Request/Response ----

/** Serve a hub route as a fetch handler; null when the path is not the hub's. */
export async function handleWeb(
  hub: HubCore,
  request: Request,
  base = '',
): Promise<Response | null> {
  const answer = await route(
    hub,
    {
      method: request.method,
      url: new URL(request.url),
      header: (name) => request.headers.get(name),
      text: (limit) => readWebBody(request, limit),
    },
    base,
  )
  if (!answer) return null
  if (answer.kind === 'sse') {
    const { stream, response } = createWebEventStream(request, streamOptions(hub, answer.headers))
    run(hub, answer.opened, stream, answer.expiresAt)
    return response
  }
  if (answer.kind === 'json') {
    if (answer.body === null)
      return new Response(null, { status: answer.status, headers: answer.headers })
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: {
        ...answer.headers,
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      },
    })
  }
  return new Response(answer.body, { status: answer.status, headers: answer.headers })
}

/** One handler for both worlds: `(request) => Response` and `(req, res, next?) => void`. */
export function hubHandler(hub: HubCore, options: HubHandlerOptions = {}): HubHandler {
  const base = options.basePath ?? ''
  function handler(request: Request): Promise<Response>
  function handler(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void
  function handler(
    a: Request | IncomingMessage,
    res?: ServerResponse,
    next?: (err?: unknown) => void,
  ): Promise<Response> | void {
    if (res === undefined && typeof (a as Request).headers?.get === 'function') {
      return handleWeb(hub, a as Request, base).then(
        (r) =>
          r ??
          new Response(
            JSON.stringify({
              error: 'NOT_FOUND',
              message: `No hub route for ${new URL((a as Request).url).pathname}.`,
            }),
            { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } },
          ),
      )
    }
    const req = a as IncomingMessage
    handleNode(hub, req, res!, base).then(
      (handled) => {
        if (handled) return
        if (next) next()
        else sendJsonError(res!, 404, 'NOT_FOUND', `No hub route for ${req.url}.`)
      },
      (err) => next?.(err),
    )
  }
  return handler as HubHandler
}

/** The hub's routes for a routing table such as `sluice serve`'s. */
export function hubRoutes(hub: HubCore): {
  method: 'GET' | 'POST' | 'OPTIONS'
  path: string
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>
}[] {
  const handler = (req: IncomingMessage, res: ServerResponse) => handleNode(hub, req, res)
  return [
    { method: 'GET', path: '/events', handler },
    { method: 'POST', path: '/publish', handler },
    { method: 'GET', path: '/metrics', handler },
    { method: 'OPTIONS', path: '/events', handler },
    { method: 'OPTIONS', path: '/publish', handler },
  ]
}
