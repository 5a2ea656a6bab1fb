/**
 * Shared parts for the emitter tests: a real node:http server on a free
 * loopback port, and clients that record what reached them and when.
 */
import { isAppEvent } from '../helpers/sse.js'
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { connect, type Socket } from 'node:net'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { listenLoopback } from '../helpers/http.js'

export interface TestServer {
  server: Server
  port: number
  url: string
  close: () => Promise<void>
}

/** A node:http server on 127.0.0.1 and a free port. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(handler)
  return {
    server,
    ...(await listenLoopback(server)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** One chunk as it reached the client, with the time since the request was sent. */
export interface Arrival {
  at: number
  text: string
}

export interface WireRead {
  status: number
  headers: IncomingMessage['headers']
  /** The whole body as text. */
  body: string
  /** Parsed events (through sluice's parser). */
  events: EventSourceMessage[]
  /** Comments (heartbeats). */
  comments: string[]
  arrivals: Arrival[]
  /** ms from request to the end of the body. */
  endedAt: number
}

/**
 * Request `url` over node:http and read the body to its end (or until
 * `stopAfterMs`, then abort), recording every chunk's arrival time.
 */
export function readWire(
  url: string,
  init: {
    method?: string
    headers?: Record<string, string>
    body?: string
    stopAfterMs?: number
  } = {},
): Promise<WireRead> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const events: EventSourceMessage[] = []
    const comments: string[] = []
    const arrivals: Arrival[] = []
    const parser = createParser({
      onEvent: (e) => isAppEvent(e) && events.push(e),
      onComment: (c) => comments.push(c),
    })
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = ''
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (): void => {
        if (timer) clearTimeout(timer)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          events,
          comments,
          arrivals,
          endedAt: performance.now() - t0,
        })
      }
      if (init.stopAfterMs !== undefined) {
        timer = setTimeout(() => {
          res.destroy()
          finish()
        }, init.stopAfterMs)
      }
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        arrivals.push({ at: performance.now() - t0, text })
        body += text
        parser.feed(text)
      })
      res.on('end', finish)
      res.on('error', () => {})
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/**
 * A raw HTTP/1.1 client that sends a GET and then stops reading: the kernel
 * buffers fill and the server sees a client that does not keep up.
 */
export function stalledClient(port: number, path = '/'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
      // Read the status line, then stop reading altogether.
      socket.once('data', () => {
        socket.pause()
        resolve(socket)
      })
    })
    socket.on('error', reject)
  })
}
