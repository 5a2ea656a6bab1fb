/**
 * Small node:http helpers for the JSON side of an SSE server: a bounded JSON
 * body reader and the error shape every sluice route answers with,
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

/** Answer with a `SluiceError` that carries an HTTP status (`error.status`) (default 400). */
export function sendSluiceError(res: ServerResponse, error: SluiceError): void {
  const status = error.status ?? 400
  sendJsonError(res, status, error.code, error.message)
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
