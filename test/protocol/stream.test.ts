/** `EventStreamParser`: the parser as a Web `TransformStream`, for `response.body.pipeThrough(...)`. */
import { describe, expect, it } from 'vitest'
import {
  EventStreamParser,
  type EventSourceMessage,
  encodeEvent,
  isSluiceError,
} from '../../src/protocol/index.js'
import { listenLoopback } from '../helpers/http.js'
import { utf8 } from './collect.js'

function source(chunks: (Uint8Array | string)[]): ReadableStream<Uint8Array | string> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c)
      controller.close()
    },
  })
}

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of stream as unknown as AsyncIterable<T>) out.push(item)
  return out
}

describe('EventStreamParser', () => {
  it('turns a byte stream cut anywhere into events', async () => {
    const text =
      encodeEvent({ id: '1', event: 'token', data: 'hé' }) + encodeEvent({ data: 'l\nlo' })
    const bytes = utf8(text)
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
    const events = await readAll(source(chunks).pipeThrough(new EventStreamParser()))
    expect(events).toEqual([
      { id: '1', event: 'token', data: 'hé' },
      { id: '1', event: '', data: 'l\nlo' },
    ])
  })

  it('accepts strings, and drops an unterminated last event when the input ends', async () => {
    const events = await readAll(
      source(['data: a\n', '\ndata: cut off']).pipeThrough(new EventStreamParser()),
    )
    expect(events).toEqual([{ id: '', event: '', data: 'a' }])
  })

  it('parses a real fetch body (node:http server on loopback)', async () => {
    const { createServer } = await import('node:http')
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('\uFEFFretry: 500\r\n')
      res.write(': keep-alive\r\n\r\nid: 1\r\ndata: one\r')
      setTimeout(() => res.end('\n\r\ndata: two\n\n'), 20)
    })
    const { url } = await listenLoopback(server)
    try {
      const res = await fetch(`${url}/`)
      const retries: number[] = []
      const comments: string[] = []
      const events = await readAll(
        res.body!.pipeThrough(
          new EventStreamParser({
            onRetry: (ms) => retries.push(ms),
            onComment: (c) => comments.push(c),
          }),
        ),
      )
      expect(events).toEqual<EventSourceMessage[]>([
        { id: '1', event: '', data: 'one' },
        { id: '1', event: '', data: 'two' },
      ])
      expect(retries).toEqual([500])
      expect(comments).toEqual(['keep-alive'])
    } finally {
      server.close()
    }
  })

  it('skips an oversized event by default, or reports it to an onError function', async () => {
    const input = [`data:${'x'.repeat(100)}\n\n`, 'data:ok\n\n']
    expect(
      await readAll(source(input).pipeThrough(new EventStreamParser({ maxEventSize: 10 }))),
    ).toEqual([{ id: '', event: '', data: 'ok' }])
    const errors: unknown[] = []
    const events = await readAll(
      source(input).pipeThrough(
        new EventStreamParser({ maxEventSize: 10, onError: (e) => errors.push(e) }),
      ),
    )
    expect(events).toEqual([{ id: '', event: '', data: 'ok' }])
    expect(errors.map((e) => isSluiceError(e, 'EVENT_TOO_LARGE'))).toEqual([true])
  })

  it("errors the stream with EVENT_TOO_LARGE when onError is 'terminate'", async () => {
    const stream = source([`data:${'x'.repeat(100)}\n\n`, 'data:ok\n\n']).pipeThrough(
      new EventStreamParser({ maxEventSize: 10, onError: 'terminate' }),
    )
    await expect(readAll(stream)).rejects.toSatisfy((err) => isSluiceError(err, 'EVENT_TOO_LARGE'))
  })
})
