/**
 * The app of `sluice serve`: the hub (topics), resumable chat runs, the chat
 * simulator, the guide's endpoint and the demo page, composed on one routing
 * table (src/cli/router.ts), with the open streams shutdown must end.
 *
 * `createServeApp()` returns a node request handler and a `close()`. Routes
 * live in one table (see `routes` below): to mount one, add a line there.
 * A handler gets `(req, res, ctx)`; it opens event streams with
 * `ctx.app.openStream(req, res, options)` so that shutdown can end them, and
 * throws a `SluiceError` (its `status`, by default its code's) for a 4xx JSON answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import { getHeapStatistics } from 'node:v8'
import { SluiceError } from '../protocol/errors.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import { discardBody } from '../server/http-json.js'
import { createEventStream } from '../server/node.js'
import { corsHeaders, preflight } from '../hub/cors.js'
import { authorizePublish, requestSubject } from '../hub/guard.js'
import { createHub, type Hub } from '../hub/hub.js'
import { hubRoutes } from '../hub/http.js'
import { exposition } from '../hub/metrics.js'
import type { Store } from '../hub/store.js'
import { DEFAULT_RUN_MEMORY } from '../runs/budget.js'
import { createRuns, type Runs, type RunsOptions } from '../runs/index.js'
import { type ChatStats, chatHandler, chatRunFormat, createChatStats } from './chat.js'
import {
  describe,
  dispatch,
  logToStderr,
  type Route as RouterRoute,
  type RouteContext as RouterContext,
  type RouteHandler as RouterHandler,
} from './router.js'
import { closeSecure, isSecure, listenSecure, type TlsOptions } from './secure.js'
import { sseEmitterTest } from './sse-emitter-test.js'
import { appRoutes } from './static.js'

/**
 * With a key (--jwt-secret, --jwt-public-key), `POST /chat` is authorized as a
 * publish to this topic: a token whose publish claim covers `chat` (or `*`).
 */
export const CHAT_TOPIC = 'chat'

/**
 * How long a chat answer nobody follows goes on (ms): long enough for a
 * reload or a network switch to resume it, short enough that abandoned
 * requests cannot pile up (issue 17 row 1). `--run-abandon`.
 */
export const DEFAULT_ABANDON_AFTER = 30_000

/**
 * The runs' memory budget when `--run-memory` is not given: 128 MiB, or a
 * quarter of V8's heap limit when that is less (`--max-old-space-size=256`:
 * 64 MiB), so that what the budget lets runs hold always fits the heap.
 */
export function defaultRunMemory(): number {
  return Math.min(DEFAULT_RUN_MEMORY, Math.floor(getHeapStatistics().heap_size_limit / 4))
}

export interface ServeOptions {
  host?: string
  port?: number
  /** The hub behind /events, /publish, /metrics (default: an open in-memory hub). */
  hub?: Hub
  /**
   * Chat runs' TTL, lease, abandonment and memory budget, and their own store
   * (closed with the app), so a long answer is not bounded by the topics'
   * history (default: runs on the hub's store, TTL 10 min, lease 5 s,
   * abandoned after 30 s without a follower, 128 MiB; docs/security.md).
   */
  runs?: RunsOptions & { store?: Store }
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void
}

export type RouteContext = RouterContext<ServeApp>
export type RouteHandler = RouterHandler<ServeApp>
export type Route = RouterRoute<ServeApp>

export interface ServeApp {
  /** The node:http request handler. */
  handler: (req: IncomingMessage, res: ServerResponse) => void
  /** The routing table (mutable: `app.routes.push(...)` mounts a route at run time). */
  routes: Route[]
  /** Open an event stream that shutdown will end cleanly. */
  openStream(req: IncomingMessage, res: ServerResponse, options?: EventStreamOptions): EventStream
  /** Event streams open now. */
  readonly streams: ReadonlySet<EventStream>
  /** Counters of the chat simulator. */
  readonly chat: ChatStats
  /** Run `fn` on close (release hubs, stores, timers). */
  onClose(fn: () => unknown): void
  /** End every open stream (with a `SHUTTING_DOWN` error event), run close hooks. Idempotent. */
  close(): Promise<void>
  readonly options: ServeOptions
}

type OpenStream = ServeApp['openStream']

export function createServeApp(options: ServeOptions = {}): ServeApp {
  const streams = new Set<EventStream>()
  const closeHooks: Array<() => unknown> = []
  const chatStats = createChatStats()
  let closing: Promise<void> | undefined

  const openStream: OpenStream = (req, res, streamOptions = {}) => {
    const stream = createEventStream(req, res, streamOptions)
    if (closing) {
      stream.completeWithError(shuttingDown())
      return stream
    }
    streams.add(stream)
    stream.onCompletion(() => streams.delete(stream))
    return stream
  }
  const { hub, runs } = composeLayers(options, closeHooks)
  const chat = chatRoutes(hub, runs, chatStats, openStream)

  // The routing table. Mount new routes here, one line each.
  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handler: healthz },
    ...chat.slice(0, 2), // POST /chat (a run), OPTIONS /chat
    // the guide's Spring endpoint: each character of ?name= every 100 ms, then the end
    { method: 'GET', path: '/sseEmitterTest', handler: sseEmitterTest(openStream) },
    // also POST (its body ignored), so the guide's Java client, which only POSTs, can call it
    { method: 'POST', path: '/sseEmitterTest', handler: sseEmitterTest(openStream) },
    ...hubRoutes(hub), // hub: GET /events, POST /publish, GET /metrics, OPTIONS (CORS preflight)
    ...chat.slice(2), // runs: GET /chat/:runId resumes (replay after Last-Event-ID, then live), DELETE stops
    ...appRoutes(), // GET /, /assets/:file: the demo page (src/app, built into dist/app)
  ]

  const app: ServeApp = {
    routes,
    streams,
    chat: chatStats,
    options,
    openStream,
    onClose(fn) {
      closeHooks.push(fn)
    },
    handler(req, res) {
      void dispatch(app, req, res)
    },
    close() {
      closing ??= (async () => {
        // Runs first: a chat answer this node produces ends with the truth, its
        // `done` {"reason":"lost"} (issue 16: it got SHUTTING_DOWN and no done;
        // delivered here at once on the memory store, through the store's feed on Redis,
        // where a follower cut first resumes on another node and reads it from the log).
        await runs.close().catch((err: unknown) => {
          ;(options.log ?? logToStderr)(`sluice serve: closing runs failed: ${describe(err)}`)
        })
        for (const stream of [...streams]) stream.completeWithError(shuttingDown())
        for (const hook of closeHooks.splice(0)) {
          try {
            await hook()
          } catch (err) {
            ;(options.log ?? logToStderr)(`sluice serve: a close hook failed: ${describe(err)}`)
          }
        }
      })()
      return closing
    },
  }
  return app
}

/**
 * The two layers, composed here: the hub (topics) and resumable chat runs, on
 * their own store or the hub's (shared across nodes with --redis); see docs/runs.md.
 */
function composeLayers(
  options: ServeOptions,
  closeHooks: Array<() => unknown>,
): { hub: Hub; runs: Runs } {
  const hub = options.hub ?? createHub()
  const runStore = options.runs?.store
  const runs = createRuns(runStore ?? hub.store, {
    abandonAfter: DEFAULT_ABANDON_AFTER,
    memoryBudget: defaultRunMemory(),
    ...options.runs,
  })
  // GET /metrics (the hub's route) shows the runs this app serves (sluice_runs_*).
  hub.metrics.addSection('runs', () => runs.metricsText())
  hub.metrics.addSection('process', processMetrics)
  // Runs first: their followers get their final events before the store closes.
  closeHooks.push(async () => {
    await runs.close()
    await runStore?.close()
  })
  closeHooks.push(() => hub.close())
  return { hub, runs }
}

/** POST /chat and OPTIONS /chat, then GET, DELETE and OPTIONS /chat/:runId. */
function chatRoutes(hub: Hub, runs: Runs, stats: ChatStats, openStream: OpenStream): Route[] {
  const postChat = chatHandler({ stats, openStream, runs })
  const runOptions = (url: URL) => ({ openStream, format: chatRunFormat(url) })
  // --cors-origin covers the chat routes too: a front end on another origin POSTs
  // /chat with JSON (a preflight), reads Sluice-Resume-Url, resumes with GET, stops with DELETE.
  const cors = hub.options.cors
  const withCors =
    (handler: RouteHandler): RouteHandler =>
    (req, res, ctx) => {
      for (const [k, v] of Object.entries(corsHeaders(cors, req.headers.origin))) {
        res.setHeader(k, v)
      }
      return handler(req, res, ctx)
    }
  // With a key, only a run's owner may resume or stop it (null: a request without a subject).
  const subjectOf = async (req: IncomingMessage): Promise<string | null | undefined> =>
    (await hub.authorizer).enabled ? ((await requestSubject(hub, req)) ?? null) : undefined
  const chatPreflight =
    (methods: string): RouteHandler =>
    (req, res) => {
      discardBody(req, res)
      res.writeHead(204, preflight(cors, req.headers.origin, methods)).end()
    }

  return [
    {
      method: 'POST',
      path: '/chat',
      handler: withCors(async (req, res, ctx) => {
        // A run costs the node what a publisher costs it: /publish's rules (docs/security.md).
        // Its 401 carries WWW-Authenticate, as every error answer's (errorAnswer).
        // With a key, the run is bound to the token's subject (docs/security.md).
        const owner = await authorizePublish(hub, req, CHAT_TOPIC)
        return postChat(req, res, ctx.url, owner)
      }),
    },
    { method: 'OPTIONS', path: '/chat', handler: chatPreflight('POST, OPTIONS') },
    {
      method: 'GET',
      path: '/chat/:runId',
      handler: withCors(async (req, res, ctx) =>
        runs.resume(req, res, ctx.params.runId, {
          ...runOptions(ctx.url),
          subject: await subjectOf(req),
        }),
      ),
    },
    {
      method: 'DELETE',
      path: '/chat/:runId',
      handler: withCors(async (req, res, ctx) =>
        runs.stopRun(req, res, ctx.params.runId, { subject: await subjectOf(req) }),
      ),
    },
    { method: 'OPTIONS', path: '/chat/:runId', handler: chatPreflight('GET, DELETE, OPTIONS') },
  ]
}

function shuttingDown(): SluiceError {
  return new SluiceError('SHUTTING_DOWN', 'The server is shutting down; please retry shortly.')
}

function healthz(_req: IncomingMessage, res: ServerResponse): void {
  const body = '{"ok":true}'
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

/** Listen on host:port over HTTPS with HTTP/2 (and HTTP/1.1): see secure.ts. */
export function listenTls(
  app: ServeApp,
  host: string,
  port: number,
  tls: TlsOptions,
): Promise<Http2SecureServer> {
  return listenSecure(app.handler, host, port, tls)
}

/** Listen on host:port; resolves with the server once it accepts connections. */
export async function listen(app: ServeApp, host: string, port: number): Promise<Server> {
  const server = createServer(app.handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}

/**
 * Stop gracefully: stop accepting, end open streams, close idle keep-alive
 * connections, and after `graceMs` drop whatever is still open.
 */
export async function shutdown(
  app: ServeApp,
  server: Server | Http2SecureServer,
  graceMs = 3000,
): Promise<void> {
  if (isSecure(server)) return closeSecure(server, () => app.close(), graceMs)
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  await app.close()
  server.closeIdleConnections()
  const force = setTimeout(() => server.closeAllConnections(), graceMs)
  force.unref()
  await closed
  clearTimeout(force)
}

/** The process's memory, under the names Prometheus' Node client uses (watching a node's budget at work). */
function processMetrics(): string {
  const m = process.memoryUsage()
  return (
    exposition('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [
      ['', m.rss],
    ]) +
    exposition('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used, bytes.', [['', m.heapUsed]]) +
    exposition('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size, bytes.', [
      ['', m.heapTotal],
    ]) +
    exposition(
      'nodejs_external_memory_bytes',
      'gauge',
      'Memory of C++ objects bound to JS (Buffers).',
      [['', m.external]],
    )
  )
}
