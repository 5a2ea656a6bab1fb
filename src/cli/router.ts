/**
 * The router of `sluice serve`: a table of routes (method, path with `:name`
 * segments, handler), `matchPath`, and `dispatch`, which runs the matching
 * handler and turns whatever it throws into the one error answer
 * (`errorAnswer`: a `SluiceError`'s status and code, else a logged 500).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { discardBody, errorAnswer, sendJsonError, sendSluiceError } from '../server/http-json.js'
import { rateLimitedLog, redact } from './redact.js'

export interface RouteContext<A = unknown> {
  url: URL
  /** `:name` segments of the route's path. */
  params: Record<string, string>
  app: A
}

export type RouteHandler<A = unknown> = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext<A>,
) => unknown | Promise<unknown>

export interface Route<A = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS'
  /** `/chat`, `/chat/:runId`... */
  path: string
  handler: RouteHandler<A>
}

/** What the router needs of an app: its table and where failures are logged. */
export interface RouterApp<A> {
  routes: Route<A>[]
  readonly options: { log?: (line: string) => void }
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

/** Route one request through `app.routes`: 400 for a bad URL, 405 (with Allow) or 404 when nothing matches. */
export async function dispatch<A extends RouterApp<A>>(
  app: A,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
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

/** A handler's error as the one error answer (errorAnswer); unexpected ones are logged, rate-limited. */
function answerError<A extends RouterApp<A>>(
  app: A,
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
): void {
  discardBody(req, res)
  if (!errorAnswer(err).exposed) {
    // A client that left mid-request is not the server's failure: nothing to log or answer.
    if (req.destroyed || isAborted(err)) return
    logFailure(app, `sluice serve: ${req.method} ${redact(req.url ?? '')} failed: ${describe(err)}`)
  }
  sendSluiceError(res, err)
}

export function describe(err: unknown): string {
  return redact(err instanceof Error ? (err.stack ?? err.message) : String(err))
}

function isAborted(err: unknown): boolean {
  // Node's own codes for a request cut by its client (not sluice error codes).
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ECONNRESET' || (err as Error)?.message === 'aborted'
}

/** One rate-limited logger per app (a burst of failing requests must not flood the log). */
const failureLogs = new WeakMap<object, (line: string) => void>()
function logFailure(app: RouterApp<any>, line: string): void {
  let log = failureLogs.get(app)
  if (!log) {
    log = rateLimitedLog(app.options.log ?? logToStderr)
    failureLogs.set(app, log)
  }
  log(line)
}

export function logToStderr(line: string): void {
  process.stderr.write(line + '\n')
}
