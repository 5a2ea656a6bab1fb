/**
 * What an open stream costs on a node:http response (issue 8, memory per
 * idle connection), and that the savings keep node's contract:
 *
 * - the response's listeners are shared functions, not closures per stream,
 *   and a 'drain' listener comes only when a write has to wait;
 * - the head string node would keep for the life of the response is
 *   released once sent, yet `headersSent`, `writeHead`/`setHeader` refusing,
 *   the end of the body and keep-alive reuse of the socket all still work.
 */
import { Agent, request, type ServerResponse } from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { createEventStream, type EventStream } from '../../src/server/index.js'
import { waitUntil } from '../helpers/wait.js'
import { readWire, startServer, type TestServer } from './support.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

it('open streams share their response listeners; none waits for drain while idle', async () => {
  const opened: { res: ServerResponse; stream: EventStream }[] = []
  server = await startServer((req, res) => {
    opened.push({ res, stream: createEventStream(req, res, { heartbeat: 0 }) })
  })
  const clients = [
    readWire(server.url, { stopAfterMs: 300 }),
    readWire(server.url, { stopAfterMs: 300 }),
  ]
  await waitUntil(() => opened.length === 2)
  const [a, b] = opened
  const shared = (event: string) =>
    a.res.listeners(event).filter((fn) => b.res.listeners(event).includes(fn))
  // The same function serves both streams: nothing per stream but the stream itself.
  expect(shared('close')).toHaveLength(a.res.listeners('close').length)
  expect(shared('error')).toHaveLength(a.res.listeners('error').length)
  expect(a.res.listenerCount('drain')).toBe(0)
  // The shared listeners still find their own stream: the clients leave, both streams see it.
  await Promise.all(clients)
  await waitUntil(() => a.stream.isClosed && b.stream.isClosed)
  expect([a.stream.closeReason, b.stream.closeReason]).toEqual(['disconnect', 'disconnect'])
})

it('waits for drain on the response when its own buffer fills (compression-style response), then lets go of the listener', async () => {
  const chunk = 'z'.repeat(16 * 1024)
  let stream!: EventStream
  let res!: ServerResponse
  let drainListenersWhileWaiting = -1
  let producer!: Promise<number>
  server = await startServer((req, r) => {
    res = r
    // A `flush` method is what compression middleware adds: sluice then writes through res.write.
    ;(r as ServerResponse & { flush?: () => void }).flush = () => {}
    stream = createEventStream(req, r, { heartbeat: 0, maxBufferedBytes: 64 * 1024 * 1024 })
    producer = (async () => {
      let sent = 0
      for (let i = 0; i < 400; i++) {
        const pending = stream.send(chunk)
        // Past the transport's high-water mark (read from it: 16 KiB on Node 20, 64 KiB
        // on 22+), res.write returned false and the send waits for 'drain'.
        if (drainListenersWhileWaiting < 0 && stream.bufferedBytes >= r.writableHighWaterMark) {
          drainListenersWhileWaiting = r.listenerCount('drain')
        }
        await pending
        sent++
      }
      stream.complete()
      return sent
    })()
  })
  const read = await readWire(server.url)
  expect(await producer).toBe(400)
  expect(read.events).toHaveLength(400)
  expect(read.events.every((e) => e.data === chunk)).toBe(true)
  // 6.4 MB through a loopback socket fills node's buffer at some point: the
  // producer then waited on the response's 'drain', added for that need.
  expect(drainListenersWhileWaiting).toBeGreaterThan(0)
  expect(res.listenerCount('drain')).toBe(0)
})

it('releases the head string once sent, and node still treats the head as sent', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const checks: Record<string, unknown>[] = []
  server = await startServer((req, res) => {
    const stream = createEventStream(req, res, { heartbeat: 0 })
    // Bun's node:http keeps no head string at all (null): nothing kept either.
    const internals = res as unknown as { _header: string | null }
    const check: Record<string, unknown> = {
      headersSent: res.headersSent,
      headKept: internals._header?.includes('text/event-stream') ?? false,
    }
    try {
      res.writeHead(500)
    } catch (err) {
      check.writeHead = (err as { code?: string }).code
    }
    try {
      res.setHeader('x-late', '1')
    } catch (err) {
      check.setHeader = (err as { code?: string }).code
    }
    checks.push(check)
    void stream.send({ event: 'hello', data: req.url ?? '' })
    stream.complete()
  })
  try {
    const get = (path: string) =>
      new Promise<{ status: number; type: string; body: string; socket: unknown }>(
        (resolve, reject) => {
          const req = request(`${server!.url}${path}`, { agent }, (res) => {
            let body = ''
            res.setEncoding('utf8')
            res.on('data', (d) => (body += d))
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                type: res.headers['content-type'] ?? '',
                body,
                socket: req.socket,
              }),
            )
          })
          req.on('error', reject)
          req.end()
        },
      )
    const first = await get('/one')
    const second = await get('/two')
    for (const [r, path] of [
      [first, '/one'],
      [second, '/two'],
    ] as const) {
      expect(r.status).toBe(200)
      expect(r.type).toBe('text/event-stream')
      expect(r.body).toBe(`event:hello\ndata:${path}\n\n`)
    }
    // The chunked body ended properly: the agent reused the same connection.
    expect(second.socket).toBe(first.socket)
    expect(checks).toEqual([
      {
        headersSent: true,
        headKept: false,
        writeHead: 'ERR_HTTP_HEADERS_SENT',
        setHeader: 'ERR_HTTP_HEADERS_SENT',
      },
      {
        headersSent: true,
        headKept: false,
        writeHead: 'ERR_HTTP_HEADERS_SENT',
        setHeader: 'ERR_HTTP_HEADERS_SENT',
      },
    ])
  } finally {
    agent.destroy()
  }
})
