/**
 * `sluice serve`: the HTTP app (chat answers streamed as SSE, the hub, the
 * demo page) on node:http, 127.0.0.1:8080 by default.
 *
 * `createServeApp()` returns a node request handler and a `close()`. Routes
 * live in one table (see `routes` below): to mount one, add a line there.
 * A handler gets `(req, res, ctx)`; it opens event streams with
 * `ctx.app.openStream(req, res, options)` so that shutdown can end them, and
 * throws a `SluiceError` (its `status`, by default its code's) for a 4xx JSON answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { SluiceError } from '../protocol/errors.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'
import { discardBody, errorAnswer, sendJsonError, sendSluiceError } from '../server/http-json.js'
import { createEventStream } from '../server/node.js'
import { type ChatStats, chatHandler, chatRunFormat, createChatStats } from './chat.js'
import { rateLimitedLog, redact } from './redact.js'
import { sseEmitterTest } from './sse-emitter-test.js'
import { appRoutes } from './static.js'
import { createHub, type Hub } from '../hub/hub.js'
import { corsHeaders, preflight } from '../hub/cors.js'
import { authorizePublish } from '../hub/guard.js'
import { hubRoutes } from '../hub/http.js'
import { memoryStore } from '../hub/memory-store.js'
import { createRuns, type RunsOptions } from '../runs/index.js'
import type { Store } from '../hub/store.js'
import { EXIT_STATUS } from './args.js'
import { HUB_HELP, createServeHub } from './hub-options.js'
import { parseServeFlags } from './serve-flags.js'

/**
 * With a key (--jwt-secret, --jwt-public-key), `POST /chat` is authorized as a
 * publish to this topic: a token whose publish claim covers `chat` (or `*`).
 */
export const CHAT_TOPIC = 'chat'

export interface ServeOptions {
  host?: string
  port?: number
  /** The hub behind /events, /publish, /metrics (default: an open in-memory hub). */
  hub?: Hub
  /**
   * Chat runs' TTL and lease, and their own store (closed with the app), so a
   * long answer is not bounded by the topics' history (default: runs on the
   * hub's store, TTL 10 min, lease 5 s).
   */
  runs?: RunsOptions & { store?: Store }
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void
}

export interface RouteContext {
  url: URL
  /** `:name` segments of the route's path. */
  params: Record<string, string>
  app: ServeApp
}

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
) => unknown | Promise<unknown>

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS'
  /** `/chat`, `/chat/:runId`... */
  path: string
  handler: RouteHandler
}

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

export function createServeApp(options: ServeOptions = {}): ServeApp {
  const streams = new Set<EventStream>()
  const closeHooks: Array<() => unknown> = []
  const chat = createChatStats()
  let closing: Promise<void> | undefined

  const openStream = (
    req: IncomingMessage,
    res: ServerResponse,
    streamOptions: EventStreamOptions = {},
  ): EventStream => {
    const stream = createEventStream(req, res, streamOptions)
    if (closing) {
      stream.completeWithError(shuttingDown())
      return stream
    }
    streams.add(stream)
    stream.onCompletion(() => streams.delete(stream))
    return stream
  }

  // The two layers, composed here: the hub (topics) and resumable chat runs, on
  // their own store or the hub's (shared across nodes with --redis); see docs/runs.md.
  const hub = options.hub ?? createHub()
  const runStore = options.runs?.store
  const runs = createRuns(runStore ?? hub.store, options.runs)
  // GET /metrics (the hub's route) shows the runs this app serves (sluice_runs_*).
  hub.metrics.addSection('runs', () => runs.metricsText())
  // Runs first: their followers get their final events before the store closes.
  closeHooks.push(async () => {
    await runs.close()
    await runStore?.close()
  })
  closeHooks.push(() => hub.close())
  const postChat = chatHandler({ stats: chat, openStream, runs })
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
  const chatPreflight =
    (methods: string): RouteHandler =>
    (req, res) => {
      discardBody(req, res)
      res.writeHead(204, preflight(cors, req.headers.origin, methods)).end()
    }

  // The routing table. Mount new routes here, one line each.
  const routes: Route[] = [
    { method: 'GET', path: '/healthz', handler: healthz },
    {
      method: 'POST',
      path: '/chat',
      handler: withCors(async (req, res, ctx) => {
        // A run costs the node what a publisher costs it: /publish's rules (docs/security.md).
        // Its 401 carries WWW-Authenticate, as every error answer's (errorAnswer).
        await authorizePublish(hub, req, CHAT_TOPIC)
        return postChat(req, res, ctx.url)
      }),
    },
    { method: 'OPTIONS', path: '/chat', handler: chatPreflight('POST, OPTIONS') },
    // the guide's Spring endpoint: each character of ?name= every 100 ms, then the end
    { method: 'GET', path: '/sseEmitterTest', handler: sseEmitterTest(openStream) },
    // also POST (its body ignored), so the guide's Java client, which only POSTs, can call it
    { method: 'POST', path: '/sseEmitterTest', handler: sseEmitterTest(openStream) },
    ...hubRoutes(hub), // hub: GET /events, POST /publish, GET /metrics, OPTIONS (CORS preflight)
    // runs: resume (replay after Last-Event-ID, then live) and stop, on any node
    {
      method: 'GET',
      path: '/chat/:runId',
      handler: withCors((req, res, ctx) =>
        runs.resume(req, res, ctx.params.runId, runOptions(ctx.url)),
      ),
    },
    {
      method: 'DELETE',
      path: '/chat/:runId',
      handler: withCors((req, res, ctx) => runs.stopRun(req, res, ctx.params.runId)),
    },
    { method: 'OPTIONS', path: '/chat/:runId', handler: chatPreflight('GET, DELETE, OPTIONS') },
    ...appRoutes(), // GET /, /assets/:file: the demo page (src/app, built into dist/app)
  ]

  const app: ServeApp = {
    routes,
    streams,
    chat,
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

function shuttingDown(): SluiceError {
  return new SluiceError('SHUTTING_DOWN', 'The server is shutting down; please retry shortly.')
}

function healthz(_req: IncomingMessage, res: ServerResponse): void {
  const body = '{"ok":true}'
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

/** Match `/chat/:runId` against `/chat/abc`; null when it does not match. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  if (!pattern.includes(':')) return pattern === path ? {} : null
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) {
      if (got[i] === '') return null
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i])
      } catch {
        return null
      }
    } else if (want[i] !== got[i]) return null
  }
  return params
}

async function dispatch(app: ServeApp, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL
  try {
    url = new URL(req.url ?? '/', 'http://localhost')
  } catch {
    sendJsonError(res, 400, 'BAD_REQUEST', 'The request URL could not be parsed.')
    return
  }
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
  const allowed: string[] = []
  for (const route of app.routes) {
    const params = matchPath(route.path, url.pathname)
    if (!params) continue
    if (route.method !== method) {
      allowed.push(route.method)
      continue
    }
    try {
      await route.handler(req, res, { url, params, app })
    } catch (err) {
      answerError(app, req, res, err)
    }
    return
  }
  discardBody(req, res)
  if (allowed.length > 0) {
    sendJsonError(
      res,
      405,
      'METHOD_NOT_ALLOWED',
      `${req.method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}.`,
      { allow: allowed.join(', ') },
    )
  } else {
    sendJsonError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${url.pathname}.`)
  }
}

function answerError(app: ServeApp, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  discardBody(req, res)
  if (!errorAnswer(err).exposed) {
    // A client that left mid-request is not the server's failure: nothing to log or answer.
    if (req.destroyed || isAborted(err)) return
    logFailure(app, `sluice serve: ${req.method} ${redact(req.url ?? '')} failed: ${describe(err)}`)
  }
  sendSluiceError(res, err)
}

function describe(err: unknown): string {
  return redact(err instanceof Error ? (err.stack ?? err.message) : String(err))
}

function isAborted(err: unknown): boolean {
  // Node's own codes for a request cut by its client (not sluice error codes).
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ECONNRESET' || (err as Error)?.message === 'aborted'
}

/** One rate-limited logger per app (a burst of failing requests must not flood the log). */
const failureLogs = new WeakMap<ServeApp, (line: string) => void>()
function logFailure(app: ServeApp, line: string): void {
  let log = failureLogs.get(app)
  if (!log) {
    log = rateLimitedLog(app.options.log ?? logToStderr)
    failureLogs.set(app, log)
  }
  log(line)
}

function logToStderr(line: string): void {
  process.stderr.write(line + '\n')
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
export async function shutdown(app: ServeApp, server: Server, graceMs = 3000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  await app.close()
  server.closeIdleConnections()
  const force = setTimeout(() => server.closeAllConnections(), graceMs)
  force.unref()
  await closed
  clearTimeout(force)
}

export const HELP = `Usage: sluice serve [options]

The hub, resumable chat answers and the demo page on one HTTP server.
Routes: GET / (the demo page), POST /chat (SSE; ?format=envelope, ?mode=chars&delay=100,
?stopOnDisconnect=MS|true|false), GET /healthz, GET /metrics (Prometheus)

Options:
  --host H               address to listen on (default 127.0.0.1)
  --port P               port (default 8080; 0 picks a free one)
  -h, --help             this help

Runs (each POST /chat answer is a run: GET /chat/:runId resumes it, DELETE stops it):
  --run-ttl MS           how long a finished answer stays resumable (default 600000)
  --run-lease MS         a run whose node stops renewing this lease is reported lost (default 5000)
  --run-max-events N     events kept per run for resuming (default 10000; on --redis too)

${HUB_HELP}

${EXIT_STATUS} SIGTERM: a clean stop (0).`

export async function main(argv: string[]): Promise<number | undefined> {
  const flags = parseServeFlags(argv)
  if (flags.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const { host, port, hub: hubFlags, runs: runFlags, runMaxEvents } = flags
  const { hub, banner } = await createServeHub(hubFlags)
  // Runs get their own store (same backend), bounded per run by --run-max-events, not --history.
  const runStore = hubFlags.redis
    ? await (await import('../hub/redis-store.js')).redisStore({
        url: hubFlags.redis,
        maxLength: runMaxEvents,
      })
    : memoryStore({ maxLength: runMaxEvents })
  const app = createServeApp({ hub, runs: { ...runFlags, store: runStore } })
  let server: Server | undefined
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stdout.write(`sluice serve: ${signal}, shutting down\n`)
    const hard = setTimeout(() => process.exit(1), 5000)
    hard.unref()
    // Ctrl-C is "interrupted" (130), after the same clean shutdown; SIGTERM is a clean stop (0).
    ;(server ? shutdown(app, server) : app.close()).then(
      () => process.exit(signal === 'SIGINT' ? 130 : 0),
      () => process.exit(1),
    )
  }
  // Before listening: the port accepts connections (a supervisor or test sees it open) a
  // moment before listen() resolves, and a signal in that moment must not kill the process.
  const onInt = () => stop('SIGINT')
  const onTerm = () => stop('SIGTERM')
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  try {
    server = await listen(app, host, port)
  } catch (err) {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
    await app.close()
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(
        `sluice serve: cannot listen on ${host}:${port} (${code}); pick another with --port or --host.\n`,
      )
      return 1
    }
    throw err
  }
  const addr = server.address()
  const actualPort = typeof addr === 'object' && addr ? addr.port : port
  process.stdout.write(`sluice serve: listening on http://${host}:${actualPort}\n`)
  for (const line of banner) process.stdout.write(`sluice serve: ${line}\n`)
  if (!hubFlags.jwtSecret && !hubFlags.jwtPublicKey && !/^(127\.|::1$|localhost$)/.test(host)) {
    process.stdout.write(
      `sluice serve: WARNING: the open hub listens on ${host}, not loopback; pass --jwt-secret\n`,
    )
  }
  return undefined
}
