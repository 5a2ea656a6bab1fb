/**
 * Heap per idle connection, in one process, against the raw node:http loop
 * (issue 8: at most the raw loop's). Each server gets 400 idle event-stream
 * connections from raw TCP clients in this process (800 descriptors, under
 * the common limit of 1,024); the heap after GC before and after, over 400,
 * is what a connection costs (the clients' share is the same for every
 * server). The bench (`npm run bench:fanout -- --scenarios
 * idle`) measures RSS at 10,000; this guards against what it found: ~2.3 KB
 * more than the raw loop per hub connection, in closures, their contexts and
 * listener arrays. Measured here (800 connections): raw 6.6-6.8 KB, emitter and
 * hub 5.6-5.8 KB; the code before the restructuring: hub 7.1-7.4 KB, emitter
 * 6.6 KB. At 400: raw 7.1, emitter 5.3-5.5, hub 6.1-6.2 KB. The
 * bound (raw + 256 B) leaves room for noise, not for that regression.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { createEventStream, type EventStream } from '../../src/server/index.js'
import { listenLoopback } from '../helpers/http.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const CONNECTIONS = 400
const WARM_UP = 20

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage().heapUsed
}

/** Open `n` event-stream requests over raw TCP; resolves once each has its first bytes. */
async function openIdle(port: number, path: string, n: number, into: Socket[]): Promise<void> {
  const started = Date.now()
  for (let i = 0; i < n; i += 50) {
    const batch: Promise<void>[] = []
    for (let j = i; j < Math.min(n, i + 50); j++) {
      batch.push(
        new Promise((resolve, reject) => {
          const socket = connect({ port, host: '127.0.0.1' }, () => {
            socket.write(
              `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
            )
          })
          socket.once('data', () => resolve())
          socket.on('data', () => {})
          socket.on('error', reject)
          into.push(socket)
        }),
      )
    }
    await Promise.all(batch)
    if (Date.now() - started > 20_000) throw new Error(`only ${i} connections in 20 s`)
  }
}

/** Bytes of heap per idle connection on a server running `handler`. */
async function perConnection(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  path: string,
): Promise<number> {
  const server: Server = createServer(handler)
  const { port } = await listenLoopback(server)
  const sockets: Socket[] = []
  try {
    // First connections pay for code and feedback, not per connection.
    await openIdle(port, path, WARM_UP, sockets)
    const before = await heapAfterGc()
    await openIdle(port, path, CONNECTIONS, sockets)
    const after = await heapAfterGc()
    return (after - before) / CONNECTIONS
  } finally {
    for (const s of sockets) s.destroy()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
}

it('an idle hub connection and an idle emitter stream cost at most about what the raw node:http loop does', async () => {
  const rawSubscribers = new Set<ServerResponse>()
  const raw = await perConnection((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    res.write(': ok\n\n')
    rawSubscribers.add(res)
    req.once('close', () => rawSubscribers.delete(res))
  }, '/events')

  const streams = new Set<EventStream>()
  const emitter = await perConnection((req, res) => {
    const stream = createEventStream(req, res)
    streams.add(stream)
    stream.onCompletion(() => streams.delete(stream))
    stream.comment('ok').catch(() => {})
  }, '/events')

  const hub = createHub()
  let hubBytes: number
  try {
    hubBytes = await perConnection(hub.handler(), '/events?topic=idle')
  } finally {
    await hub.close()
  }

  const kb = (b: number) => `${(b / 1024).toFixed(2)} KB`
  console.log(
    `heap per idle connection (${CONNECTIONS}, with the client's share): raw ${kb(raw)}, emitter ${kb(emitter)}, hub ${kb(hubBytes)}`,
  )
  expect(raw).toBeGreaterThan(0)
  expect(emitter).toBeLessThan(raw + 256)
  expect(hubBytes).toBeLessThan(raw + 256)
}, 60_000)
