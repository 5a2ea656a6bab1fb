/**
 * `sluice proxy --target URL [--port P] [--host H]`: a development reverse
 * proxy that never buffers `text/event-stream`.
 *
 * Dev-server proxies (the guide's Vue proxy, webpack-dev-server with
 * compression) hold an event stream until it ends. This one:
 * - writes each upstream chunk to the client as it arrives, with Nagle off and
 *   no compression (it never adds a `content-encoding`, and asks the upstream
 *   for an identity body when the client wants an event stream);
 * - destroys the upstream request the moment the client goes away, so the
 *   producer's AbortSignal fires at once;
 * - passes every end-to-end header (`Last-Event-ID` included) both ways and
 *   streams request and response bodies for any method.
 */
import { redact } from './redact.js'
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type RequestOptions,
  type Server,
  type ServerResponse,
  createServer,
} from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import { SluiceError } from '../protocol/errors.js'
import { EXIT_STATUS, UsageError, parseFlags, portFlag, urlArg } from './args.js'

/** RFC 9110 7.6.1: connection-specific headers a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

export interface ProxyOptions {
  /** Upstream base URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  target: string | URL
  /** Keep the client's `Host` header instead of the target's (default false, like `changeOrigin: true`). */
  preserveHost?: boolean
  /** Called for each proxied request once the upstream answered (for logging). */
  onResponse?: (info: { method: string; url: string; status: number; stream: boolean }) => void
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType.join(',') : (contentType ?? '')
  return v.toLowerCase().includes('text/event-stream')
}

/** Copy headers minus hop-by-hop ones and any named in `Connection`. */
function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = new Set(HOP_BY_HOP)
  const conn = headers.connection
  if (conn) for (const name of String(conn).split(',')) drop.add(name.trim().toLowerCase())
  const out: OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !drop.has(k)) out[k] = v
  return out
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: code, message }))
}

/** The request handler, for mounting in your own `node:http` server. */
export function createProxyHandler(
  options: ProxyOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const target = parseTarget(options.target)
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest
  const basePath = target.pathname.replace(/\/$/, '')

  return (req, res) => {
    const headers = endToEnd(req.headers)
    if (!options.preserveHost) headers.host = target.host
    const remote = req.socket.remoteAddress
    if (remote) {
      const prior = req.headers['x-forwarded-for']
      headers['x-forwarded-for'] = prior ? `${prior}, ${remote}` : remote
    }
    headers['x-forwarded-host'] ??= req.headers.host
    headers['x-forwarded-proto'] ??= 'http'
    // A client asking for an event stream gets it uncompressed: a gzip stream
    // is only as live as the upstream's flushes, so ask for identity.
    if (isEventStream(req.headers.accept)) headers['accept-encoding'] = 'identity'

    const opts: RequestOptions = {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port || (target.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: basePath + (req.url ?? '/'),
      headers,
    }
    const upstream = send(opts)
    upstream.setNoDelay(true)

    // The client went away (tab closed, fetch aborted) before the response
    // ended: tear down the upstream request now, so the producer stops.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.once('error', () => upstream.destroy())

    upstream.once('response', (up) => {
      const stream = isEventStream(up.headers['content-type'])
      const out = endToEnd(up.headers)
      if (stream) {
        // Tell any proxy in front of us not to buffer or transform either.
        out['x-accel-buffering'] = 'no'
        const cc = out['cache-control']
        if (!cc) out['cache-control'] = 'no-cache, no-transform'
        else if (!/no-transform/i.test(String(cc))) out['cache-control'] = `${cc}, no-transform`
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out)
      if (stream) {
        res.socket?.setNoDelay(true)
        // Send the status line and headers now; clients treat the open as the
        // moment the stream is live (fetch-event-source's onopen).
        res.flushHeaders()
      }
      options.onResponse?.({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        status: up.statusCode ?? 502,
        stream,
      })
      // Chunk by chunk: `pipe` writes each chunk to the socket as it arrives
      // and applies backpressure to the upstream when the client is slow.
      up.pipe(res)
      up.once('error', () => res.destroy())
      up.once('aborted', () => res.destroy())
    })
    upstream.once('error', (err) => {
      if (res.destroyed) return
      sendError(
        res,
        502,
        'BAD_GATEWAY',
        `sluice proxy could not reach ${target.origin}: ${err.message}. Is the upstream running?`,
      )
    })
    req.pipe(upstream)
  }
}

/** Pass WebSocket (and other) upgrades straight through, e.g. for a dev server's HMR. */
function proxyUpgrade(target: URL, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest
  const headers: OutgoingHttpHeaders = { ...req.headers, host: target.host }
  const upstream = send({
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port || (target.protocol === 'https:' ? 443 : 80),
    method: req.method,
    path: target.pathname.replace(/\/$/, '') + (req.url ?? '/'),
    headers,
  })
  upstream.once('upgrade', (up, upSocket, upHead) => {
    let head101 = `HTTP/1.1 ${up.statusCode} ${up.statusMessage}\r\n`
    for (let i = 0; i < up.rawHeaders.length; i += 2)
      head101 += `${up.rawHeaders[i]}: ${up.rawHeaders[i + 1]}\r\n`
    socket.write(head101 + '\r\n')
    if (upHead.length) socket.write(upHead)
    if (head.length) upSocket.write(head)
    upSocket.pipe(socket).pipe(upSocket)
    upSocket.once('error', () => socket.destroy())
    socket.once('error', () => upSocket.destroy())
    socket.once('close', () => upSocket.destroy())
  })
  upstream.once('response', (res) => {
    // The upstream refused the upgrade: relay its answer and close.
    let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\nconnection: close\r\n\r\n`
    if (res.statusCode === undefined) head = 'HTTP/1.1 502 Bad Gateway\r\n\r\n'
    socket.end(head)
    res.resume()
  })
  upstream.once('error', () => socket.destroy())
  socket.once('error', () => upstream.destroy())
  upstream.end()
}

function parseTarget(target: string | URL): URL {
  let url: URL
  try {
    url = new URL(String(target))
  } catch {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      `--target must be an absolute http(s) URL such as http://127.0.0.1:8080, got '${String(target)}'.`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      `--target must be an http:// or https:// URL, got '${url.protocol}'.`,
    )
  }
  return url
}

/** A `node:http` server that proxies every request (and upgrade) to `target`. */
export function createProxyServer(options: ProxyOptions): Server {
  const target = parseTarget(options.target)
  const server = createServer(createProxyHandler({ ...options, target }))
  server.on('upgrade', (req, socket, head) => proxyUpgrade(target, req, socket as Socket, head))
  // Streams may idle between heartbeats far longer than Node's defaults allow
  // for a whole request; never time out a proxied response.
  server.requestTimeout = 0
  server.headersTimeout = 60_000
  server.keepAliveTimeout = 5_000
  return server
}

/** Not 8080 (sluice serve), 8081-8082 (docs/hub.md's Redis nodes, the webpack example), 8088 (nginx). */
const DEFAULT_PORT = 8090

export const HELP = `Usage: sluice proxy --target URL [options]

A development reverse proxy that never buffers text/event-stream: each chunk is
flushed as it arrives, a client's disconnect is passed upstream at once, and
everything else (any method, bodies, Last-Event-ID and other headers) is
proxied as is. Point your front end at it instead of a dev-server proxy.

Options:
      --target URL   upstream base URL (required), e.g. http://127.0.0.1:8080
  -p, --port P       port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
      --host H       address to listen on (default 127.0.0.1)
  -q, --quiet        do not log each request
  -h, --help         this help

${EXIT_STATUS}`

const FLAGS = {
  target: { type: 'string' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function main(argv: string[]): Promise<number | undefined> {
  const { values, positionals } = parseFlags(argv, FLAGS)
  if (values.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`)
  if (values.target === undefined) throw new UsageError('--target URL is required.')
  const target = values.target
  urlArg('--target', target, 'http://127.0.0.1:8080')
  const host = values.host ?? '127.0.0.1'
  if (host === '') throw new UsageError('--host needs an address.')
  const port = values.port === undefined ? DEFAULT_PORT : portFlag('--port', values.port)
  const quiet = values.quiet === true
  const server = createProxyServer({
    target,
    onResponse: quiet
      ? undefined
      : ({ method, url, status, stream }) =>
          process.stdout.write(
            `${method} ${redact(url)} -> ${status}${stream ? ' (event stream)' : ''}\n`,
          ),
  })
  // Ctrl-C is "interrupted" (130); SIGTERM, a supervisor's stop, is a clean end (0).
  const stop = (code: number) => () => {
    if (!server.listening) process.exit(code)
    server.close(() => process.exit(code))
    server.closeAllConnections()
  }
  const onInt = stop(130)
  const onTerm = stop(0)
  // Before listening: a signal just as the port opens must still end the proxy cleanly.
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, resolve)
    })
  } catch (err) {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
    throw err
  }
  const addr = server.address()
  const bound = typeof addr === 'object' && addr ? addr.port : port
  process.stdout.write(`sluice proxy: listening on http://${host}:${bound} -> ${target}\n`)
  return undefined
}
