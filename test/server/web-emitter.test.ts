/**
 * The emitter over a Web `Response`: the same vocabulary, with the body's
 * queue as the buffer and `cancel()` / the request's signal as the client
 * leaving. Read here as any fetch-style runtime would read it.
 */
import { describe, expect, it } from 'vitest'
import {
  createWebEventStream,
  type EventStream,
  eventStreamResponse,
  type StreamClosedError,
} from '../../src/server/index.js'
import { readEvents } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'

describe('eventStreamResponse', () => {
  it('carries the event-stream headers and what the producer sends', async () => {
    const response = eventStreamResponse(
      new Request('http://localhost/chat?lastEventId=3'),
      async (stream) => {
        expect(stream.lastEventId).toBe('3')
        await stream.send({ event: 'token', id: '4', data: 'Hi' })
        await stream.send({ data: { done: true } })
        stream.complete()
      },
      { headers: { 'access-control-allow-origin': '*' } },
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    // The runtime adds Connection itself (and HTTP/2 forbids it).
    expect(response.headers.get('connection')).toBeNull()
    expect((await readEvents(response)).map((e) => [e.event, e.id, e.data])).toEqual([
      ['token', '4', 'Hi'],
      ['', '4', '{"done":true}'],
    ])
  })

  it('a producer that throws ends the stream with an error event', async () => {
    const response = eventStreamResponse(null, async (stream) => {
      await stream.send('one')
      throw new Error('internal detail')
    })
    const events = await readEvents(response)
    expect(events.map((e) => e.event)).toEqual(['', 'error'])
    expect(events[1].data).not.toContain('internal detail')
  })

  it('keeps sends made before anyone reads, in order, and applies backpressure meanwhile', async () => {
    const { stream, response } = createWebEventStream(null, { heartbeat: 0 })
    const chunk = 'z'.repeat(1024)
    let settled = 0
    const sends: Promise<void>[] = []
    for (let i = 0; i < 40; i++)
      sends.push(stream.send({ id: String(i), data: chunk }).then(() => void settled++))
    // The sends under the high-water mark settle; had none waited, all 40 would have by then.
    await waitUntil(() => settled > 0, 5000, 'the first sends to settle')
    // 40 KiB queued against a 16 KiB high-water mark: the later sends wait for the reader.
    expect(settled).toBeLessThan(40)
    expect(stream.bufferedBytes).toBeGreaterThan(16 * 1024)
    stream.complete()
    const events = await readEvents(response)
    await Promise.all(sends)
    expect(settled).toBe(40)
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)))
  })

  it('cancelling the body is a disconnect: the signal aborts and sends are refused', async () => {
    let stream!: EventStream
    const response = eventStreamResponse(null, (s) => {
      stream = s
      void s.send('first')
    })
    const reader = response.body!.getReader()
    await reader.read()
    await reader.cancel()
    await waitUntil(() => stream.signal.aborted, 1000)
    expect((stream.signal.reason as StreamClosedError).reason).toBe('disconnect')
    await expect(stream.send('after')).rejects.toMatchObject({ code: 'STREAM_CLOSED' })
  })

  it("the request's signal aborting is a disconnect", async () => {
    const controller = new AbortController()
    const request = new Request('http://localhost/', { signal: controller.signal })
    const { stream } = createWebEventStream(request)
    controller.abort()
    expect(await stream.closed).toBe('disconnect')
  })

  it("requestSignal: false leaves the request's signal unread; the body's cancel still ends the stream", async () => {
    const controller = new AbortController()
    let reads = 0
    const request = new Request('http://localhost/', { signal: controller.signal })
    // Deno warns when an app reads request.signal: count the reads.
    Object.defineProperty(request, 'signal', {
      get: () => {
        reads++
        return controller.signal
      },
    })
    const { stream, response } = createWebEventStream(request, { requestSignal: false })
    controller.abort()
    await new Promise((r) => setTimeout(r, 20))
    expect([reads, stream.isClosed]).toEqual([0, false])
    await response.body!.cancel()
    expect(await stream.closed).toBe('disconnect')
  })

  it('a non-awaiting producer against a reader that never reads is cut at maxBufferedBytes', async () => {
    const { stream } = createWebEventStream(null, { heartbeat: 0, maxBufferedBytes: 64 * 1024 })
    let maxBuffered = 0
    for (let i = 0; i < 10_000 && !stream.isClosed; i++) {
      void stream.send('w'.repeat(1000))
      maxBuffered = Math.max(maxBuffered, stream.bufferedBytes)
    }
    expect(await stream.closed).toBe('slow-consumer')
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024)
  })

  it('refuses bad options at once, with the field named', () => {
    expect(() => createWebEventStream(null, { retry: -1 })).toThrow(/retry/)
    expect(() => createWebEventStream(null, { heartbeat: -5 })).toThrow(/heartbeat/)
    expect(() => createWebEventStream(null, { timeout: Number.NaN })).toThrow(/timeout/)
    expect(() => createWebEventStream(null, { maxBufferedBytes: 0 })).toThrow(/maxBufferedBytes/)
  })

  it('times out and heartbeats like the node stream', async () => {
    const t0 = performance.now()
    const { stream, response } = createWebEventStream(null, { heartbeat: 80, timeout: 500 })
    const text = await response.text()
    // Not much early (Deno's timers, on a loaded machine, fired a 500 ms timeout at 465 ms).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450)
    // About 6 are due; a loaded machine's timers may deliver fewer.
    expect(text.match(/^:\n/gm)?.length ?? 0).toBeGreaterThanOrEqual(2)
    expect(await stream.closed).toBe('timeout')
  })
})
