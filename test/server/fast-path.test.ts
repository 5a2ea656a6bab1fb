/**
 * The node:http fast path (src/server/node.ts): taken only when the response's
 * internals check out, and a correct fallback otherwise: with the option or the
 * environment switch off, a replaced write, an internal of the wrong type, a
 * HEAD, and over HTTP/1.0 (no chunked framing, the end closes the connection).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { EventStream, EventStreamOptions } from '../../src/server/index.js'
import { createEventStream } from '../../src/server/index.js'
import { usesFastPath } from '../../src/server/node.js'
import { readWire, startServer, type TestServer } from './support.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const WIRE = 'event:a\nid:1\ndata:one\n\ndata:two\n\n'

/** Serve two events on a stream opened after `prepare(res)`; resolve with whether it took the fast path. */
async function serveTwo(
  prepare: (req: IncomingMessage, res: ServerResponse) => void = () => {},
  options: EventStreamOptions = {},
): Promise<{ url: string; fast: Promise<boolean> }> {
  let resolveFast!: (fast: boolean) => void
  const fast = new Promise<boolean>((r) => (resolveFast = r))
  server = await startServer(async (req, res) => {
    prepare(req, res)
    const stream: EventStream = createEventStream(req, res, { heartbeat: 0, ...options })
    resolveFast(usesFastPath(stream))
    await stream.send({ event: 'a', id: '1', data: 'one' })
    await stream.send('two')
    stream.complete()
  })
  return { url: server.url, fast }
}

/** GET over HTTP/1.0 on a raw socket: the whole response, head and body. */
function getHttp10(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n'),
    )
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => (text += d))
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('the node:http fast path', () => {
  it('a plain response takes it, and the bytes are exact', async () => {
    const { url, fast } = await serveTwo()
    const wire = await readWire(url)
    expect(await fast).toBe(true)
    expect(wire.body).toBe(WIRE)
  })

  it('fastPath: false falls back, same bytes', async () => {
    const { url, fast } = await serveTwo(() => {}, { fastPath: false })
    const wire = await readWire(url)
    expect(await fast).toBe(false)
    expect(wire.body).toBe(WIRE)
  })

  it('an internal of the wrong type (chunkedEncoding not a boolean) falls back, same bytes', async () => {
    const { url, fast } = await serveTwo((_req, res) => {
      // Node assigns it in writeHead; a runtime whose value is not a boolean must not be trusted.
      let value: unknown
      Object.defineProperty(res, 'chunkedEncoding', {
        configurable: true,
        get: () => (value === true ? 'yes' : value),
        set: (v) => (value = v),
      })
    })
    const wire = await readWire(url)
    expect(await fast).toBe(false)
    expect(wire.body).toBe(WIRE)
  })

  it('a write replaced on the response (compression-style) falls back to it', async () => {
    let through = 0
    const { url, fast } = await serveTwo((_req, res) => {
      const write = res.write.bind(res) as (chunk: unknown) => boolean
      res.write = ((chunk: unknown) => {
        through++
        return write(chunk)
      }) as typeof res.write
    })
    const wire = await readWire(url)
    expect(await fast).toBe(false)
    expect(wire.body).toBe(WIRE)
    expect(through).toBeGreaterThanOrEqual(2)
  })

  it('a HEAD request does not take it', async () => {
    const { url, fast } = await serveTwo()
    const res = await fetch(url, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(await fast).toBe(false)
  })

  for (const fastPath of [true, false]) {
    it(`HTTP/1.0 (fast path ${fastPath ? 'on' : 'off'}): no chunked framing, no keep-alive, the end closes`, async () => {
      const { fast } = await serveTwo(() => {}, { fastPath })
      const text = await getHttp10(server!.port)
      const [head, body] = text.split('\r\n\r\n', 2) as [string, string]
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(head.toLowerCase()).not.toContain('transfer-encoding')
      expect(head.toLowerCase()).not.toContain('connection: keep-alive')
      expect(body).toBe(WIRE)
      expect(await fast).toBe(fastPath)
    })
  }
})
