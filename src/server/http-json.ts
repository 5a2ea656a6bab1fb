/**
 * Small node:http helpers for the JSON side of an SSE server: a bounded JSON
 * body reader (node:http and Web) and the one error answer every sluice route
 * gives (`errorAnswer`),
 * `{"error":"<CODE>","message":"..."}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SluiceError } from '../protocol/errors.js'

/** Default request-body cap: 64 KiB. */
export const DEFAULT_BODY_LIMIT = 64 * 1024

/** Answer with `status` and `{"error":code,"message":message}` (no-op when headers are already out). */
export function sendJsonError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end()
    return
  }
  const body = JSON.stringify({ error: code, message })
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

/** The HTTP answer to an error: status, extra headers and the `{"error","message"}` body. */
export interface ErrorAnswer {
  status: number
  headers: Record<string, string>
  body: { error: string; message: string }
  /** Whether the error was one sluice may show (a `SluiceError` with a status); else a 500 `INTERNAL`. */
  exposed: boolean
}

/**
 * The one way an error becomes an HTTP answer (node:http and Web alike): a
 * `SluiceError` with a status answers with it, its code and message (a 401
 * with `WWW-Authenticate`, one with `details.retryAfter` with `Retry-After`);
 * anything else is 500 `INTERNAL` with a generic
 * message, never the error's own (it may hold internals).
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof SluiceError && err.status !== undefined) {
    const headers: Record<string, string> = {}
    if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="sluice"'
    // A refusal for lack of room (RUN_LIMIT, RUN_BUDGET) says when to come back, in seconds.
    const retryAfter = err.details.retryAfter
    if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter)
    return {
      status: err.status,
      headers,
      body: { error: err.code, message: err.message },
      exposed: true,
    }
  }
  return {
    status: 500,
    headers: {},
    body: { error: 'INTERNAL', message: 'The server failed to handle this request.' },
    exposed: false,
  }
}

/** Answer any error on node:http (see `errorAnswer`; a no-op but ending when headers are out). */
export function sendSluiceError(
  res: ServerResponse,
  error: unknown,
  headers: Record<string, string> = {},
): void {
  const a = errorAnswer(error)
  sendJsonError(res, a.status, a.body.error, a.body.message, { ...headers, ...a.headers })
}

/** Answer any error as a Web `Response` (see `errorAnswer`). */
export function errorResponse(error: unknown, headers: Record<string, string> = {}): Response {
  const a = errorAnswer(error)
  return new Response(JSON.stringify(a.body), {
    status: a.status,
    headers: {
      ...headers,
      ...a.headers,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
  })
}

/** Read the whole body as text, refusing more than `limit` bytes (413, `BODY_TOO_LARGE`). */
export async function readBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit)
  // Listeners, not `for await`: leaving an async iterator early destroys the
  // request, and with it the socket the 413 answer must go out on.
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        req.pause()
        reject(tooLarge(limit))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onClose = (): void => {
      cleanup()
      reject(
        new SluiceError(
          'ABORTED',
          'The client closed the connection before sending the whole body.',
        ),
      )
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/** Read and parse a JSON body (400 `INVALID_JSON` when it does not parse). */
export async function readJsonBody(
  req: IncomingMessage,
  limit = DEFAULT_BODY_LIMIT,
): Promise<unknown> {
  const text = await readBody(req, limit)
  if (text.trim() === '') {
    throw new SluiceError(
      'INVALID_JSON',
      'The request body is empty; send a JSON object such as {"message":"Hello"}.',
    )
  }
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new SluiceError(
      'INVALID_JSON',
      `The request body is not valid JSON (${(cause as Error).message}); send a JSON object such as {"message":"Hello"}.`,
      {},
      { cause },
    )
  }
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError(
    'BODY_TOO_LARGE',
    `The request body is larger than ${limit} bytes; send a shorter message.`,
    { limit },
  )
}

/** Read a Web `Request`'s body as text, refusing more than `limit` bytes (413, `BODY_TOO_LARGE`). */
export async function readWebBody(request: Request, limit = DEFAULT_BODY_LIMIT): Promise<string> {
  const declared = Number(request.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit)
  if (!request.body) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  const all = new Uint8Array(size)
  let o = 0
  for (const c of chunks) {
    all.set(c, o)
    o += c.byteLength
  }
  return new TextDecoder().decode(all)
}

/**
 * After refusing a body early, let the response out: read and discard the
 * rest (up to 1 MiB, then drop the connection) and close after answering.
 */
export function discardBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.readableEnded) return
  res.shouldKeepAlive = false
  let drained = 0
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length
    if (drained > 1024 * 1024) req.socket.destroy()
  })
  req.resume()
}
