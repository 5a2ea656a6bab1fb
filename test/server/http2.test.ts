/**
 * The node emitter on node:http2's compatibility API (cleartext h2c here):
 * no `Connection` header (HTTP/2 forbids it), events stream as sent, and a
 * client that resets its stream is a disconnect.
 */
import http2 from 'node:http2'
import { afterEach, expect, it } from 'vitest'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { createEventStream, type EventStream } from '../../src/server/index.js'
import { listenLoopback } from '../helpers/http.js'
import { waitUntil } from '../helpers/wait.js'

let server: http2.Http2Server | undefined
afterEach(
  () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
)

async function start(onStream: (s: EventStream) => void): Promise<string> {
  server = http2.createServer((req, res) => onStream(createEventStream(req, res, { heartbeat: 0 })))
  return (await listenLoopback(server)).url
}

it('streams over HTTP/2 without a Connection header, and sees a reset stream as a disconnect', async () => {
  const streams: EventStream[] = []
  const origin = await start((s) => {
    streams.push(s)
    void s.send({ event: 'hello', id: '1', data: s.lastEventId })
  })
  const client = http2.connect(origin)
  try {
    const req = client.request({ ':path': '/events', 'last-event-id': '9' })
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
      req.once('response', resolve),
    )
    expect(headers[':status']).toBe(200)
    expect(headers['content-type']).toBe('text/event-stream')
    expect(headers['x-accel-buffering']).toBe('no')
    expect(headers.connection).toBeUndefined()
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    req.on('data', (d: Buffer) => parser.feed(d))
    await waitUntil(() => events.length === 1)
    expect(events[0]).toEqual({ event: 'hello', id: '1', data: '9' })
    req.close(http2.constants.NGHTTP2_CANCEL)
    await waitUntil(() => streams[0].isClosed, 1000)
    expect(streams[0].closeReason).toBe('disconnect')
  } finally {
    client.close()
  }
})
