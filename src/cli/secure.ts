/**
 * `sluice serve --tls-cert --tls-key`: HTTPS with HTTP/2 (node:http2's
 * `createSecureServer`, `allowHTTP1` for clients that do not speak it). The
 * app's handler gets node:http2's compatibility request and response, which
 * the emitter, the hub and the routes take as they take node:http's. Browsers
 * speak HTTP/2 only over TLS, and over HTTP/2 every stream of a tab is one
 * stream of one connection: no six-connections-per-origin limit.
 *
 * The shutdown mirrors node:http's: stop accepting, let the app end its
 * streams, send GOAWAY to each HTTP/2 session, close idle HTTP/1.1
 * connections, and after the grace drop whatever is still open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2'
import type { TLSSocket } from 'node:tls'

/** PEM contents (not paths) of the certificate chain and its key. */
export interface TlsOptions {
  cert: string | Buffer
  key: string | Buffer
}

interface Connections {
  sessions: Set<Http2Session>
  sockets: Set<TLSSocket>
  /** HTTP/1.1 connections with a request in progress (how many). */
  busy: Map<TLSSocket, number>
}

const connections = new WeakMap<Http2SecureServer, Connections>()

/** An HTTPS server with HTTP/2 and HTTP/1.1 on `handler`, listening on host:port. */
export async function listenSecure(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
  tls: TlsOptions,
): Promise<Http2SecureServer> {
  const server = createSecureServer(
    { cert: tls.cert, key: tls.key, allowHTTP1: true },
    // node:http2's compatibility request/response have the members the app uses at run time.
    handler as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  )
  const c: Connections = { sessions: new Set(), sockets: new Set(), busy: new Map() }
  connections.set(server, c)
  server.on('session', (session: Http2Session) => {
    c.sessions.add(session)
    session.once('close', () => c.sessions.delete(session))
  })
  server.on('secureConnection', (socket: TLSSocket) => {
    c.sockets.add(socket)
    socket.once('close', () => {
      c.sockets.delete(socket)
      c.busy.delete(socket)
    })
  })
  server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return
    const socket = req.socket as TLSSocket
    c.busy.set(socket, (c.busy.get(socket) ?? 0) + 1)
    res.once('close', () => c.busy.set(socket, (c.busy.get(socket) ?? 1) - 1))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}

/** Whether `server` came from listenSecure. */
export function isSecure(server: object): server is Http2SecureServer {
  return connections.has(server as Http2SecureServer)
}

/** Stop `server` after `endStreams` (the app's close): GOAWAY, idle HTTP/1.1 closed, the rest cut after `graceMs`. */
export async function closeSecure(
  server: Http2SecureServer,
  endStreams: () => Promise<void>,
  graceMs: number,
): Promise<void> {
  const c = connections.get(server)
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  await endStreams()
  for (const session of c?.sessions ?? []) session.close()
  for (const socket of c?.sockets ?? []) {
    if (socket.alpnProtocol !== 'h2' && !c?.busy.get(socket)) socket.destroy()
  }
  const force = setTimeout(() => {
    for (const session of c?.sessions ?? []) session.destroy()
    for (const socket of c?.sockets ?? []) socket.destroy()
  }, graceMs)
  force.unref()
  await closed
  clearTimeout(force)
}
