/**
 * The emitter over node:http, checked on the wire: a real server on a
 * loopback port, real clients, sluice's parser reading what arrived.
 */
import { request } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { isSluiceError } from '../../src/protocol/index.js'
import {
  type CloseReason,
  createEventStream,
  type EventStream,
  eventStreamHandler,
  StreamClosedError,
} from '../../src/server/index.js'
import { streamStats } from '../../src/server/event-stream.js'
import { heartbeatTimerCount } from '../../src/server/heartbeat.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { readWire, startServer, stalledClient, type TestServer } from './support.js'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** Serve one stream per request; `onStream` gets each, and its response. */
async function serve(
  onStream: (stream: EventStream, res: import('node:http').ServerResponse) => void,
  options: Parameters<typeof createEventStream>[2] = {},
): Promise<TestServer> {
  server = await startServer((req, res) => onStream(createEventStream(req, res, options), res))
  return server
}

describe('headers and the opening of the stream', () => {
  it('sends the event-stream headers at once, before any event', async () => {
    const { url } = await serve(() => {
      // Send nothing: the client must still see the response open.
    })
    const t0 = performance.now()
    const res = await fetch(url)
    const openedAfter = performance.now() - t0
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    expect(res.headers.get('connection')).toBe('keep-alive')
    expect(res.headers.get('content-length')).toBeNull()
    expect(openedAfter).toBeLessThan(1000)
    await res.body?.cancel()
  })

  it('turns Nagle off on the socket, so small events leave at once', async () => {
    const calls: unknown[] = []
    server = await startServer((req, res) => {
      // Observe the real socket's call (node:http may already default to no delay).
      const original = req.socket.setNoDelay.bind(req.socket)
      req.socket.setNoDelay = (noDelay?: boolean) => {
        calls.push(noDelay)
        return original(noDelay)
      }
      createEventStream(req, res).complete()
    })
    await readWire(server.url)
    expect(calls).toEqual([true])
  })

  it('sends Connection: keep-alive on HTTP/1.1 only', async () => {
    const { port } = await serve((s) => s.complete())
    const head = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'))
      let text = ''
      socket.on('data', (d) => (text += d))
      socket.on('end', () => resolve(text))
    })
    expect(head.toLowerCase()).toContain('content-type: text/event-stream')
    expect(head.toLowerCase()).not.toContain('connection: keep-alive')
  })

  it('writes the initial retry, keeps extra headers, and cannot be talked out of its own', async () => {
    const { url } = await serve((s) => s.complete(), {
      retry: 2500,
      headers: {
        'Access-Control-Allow-Origin': '*',
        'Sluice-Resume-Url': '/chat/r1',
        'Content-Type': 'text/plain',
        'Content-Length': '5',
      },
    })
    const wire = await readWire(url)
    // The retry line alone: it joins the first event's block (issue 14: no block that dispatches nothing).
    expect(wire.body).toBe('retry:2500\n')
    expect(wire.headers['access-control-allow-origin']).toBe('*')
    expect(wire.headers['sluice-resume-url']).toBe('/chat/r1')
    expect(wire.headers['content-type']).toBe('text/event-stream')
    expect(wire.headers['content-length']).toBeUndefined()
  })

  it('reads Last-Event-ID from the header, else from ?lastEventId=', async () => {
    const seen: string[] = []
    const { url } = await serve((s) => {
      seen.push(s.lastEventId)
      s.complete()
    })
    await readWire(url, { headers: { 'Last-Event-ID': '41' } })
    await readWire(`${url}/?topic=a&lastEventId=7`)
    await readWire(url)
    expect(seen).toEqual(['41', '7', ''])
  })
})

describe('send, comment, write', () => {
  it('sends strings as data, events as given, other values as JSON, in order', async () => {
    const { url } = await serve(async (s) => {
      await s.send('plain text')
      await s.send({ event: 'token', id: '1', data: 'Hel' })
      await s.send({ data: { a: [1, 2] } })
      await s.send([1, 'two'])
      await s.send({ answer: 42 })
      await s.send('two\nlines')
      await s.comment('just a comment')
      await s.write('event:raw\ndata:pre-encoded\n\n')
      s.complete()
    })
    const wire = await readWire(url)
    expect(wire.events.map((e) => [e.event, e.id, e.data])).toEqual([
      ['', '', 'plain text'],
      ['token', '1', 'Hel'],
      ['', '1', '{"a":[1,2]}'],
      ['', '1', '[1,"two"]'],
      ['', '1', '{"answer":42}'],
      ['', '1', 'two\nlines'],
      ['raw', '1', 'pre-encoded'],
    ])
    expect(wire.comments).toEqual(['just a comment'])
  })

  it('keeps sends made in the same tick as the stream was created, in order', async () => {
    const { url } = await serve((s) => {
      for (let i = 0; i < 50; i++) void s.send({ id: String(i), data: `n${i}` })
      s.complete()
    })
    const wire = await readWire(url)
    expect(wire.events.map((e) => e.data)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`))
  })

  it('rejects a send after complete with STREAM_CLOSED, and writes nothing more', async () => {
    let rejection: unknown
    const { url } = await serve(async (s) => {
      await s.send('before')
      s.complete()
      s.complete() // idempotent
      rejection = await s.send('after').catch((e) => e)
      await s.comment('after').catch(() => {})
    })
    const wire = await readWire(url)
    expect(wire.body).toBe('data:before\n\n')
    expect(rejection).toBeInstanceOf(StreamClosedError)
    expect(isSluiceError(rejection, 'STREAM_CLOSED')).toBe(true)
    expect((rejection as StreamClosedError).reason).toBe('complete')
  })
})

describe('eventStreamHandler', () => {
  it('runs the producer; a throw (sync or async) becomes completeWithError', async () => {
    server = await startServer(
      eventStreamHandler((stream, req) => {
        void stream.send('started')
        if (req.url === '/sync') throw new Error('sync failure')
        return Promise.reject(new Error('async failure'))
      }),
    )
    for (const path of ['/sync', '/async']) {
      const wire = await readWire(server.url + path)
      expect(wire.events.map((e) => e.event)).toEqual(['', 'error'])
      expect(wire.body).not.toContain('failure')
    }
  })

  it('refuses to send undefined, loudly', async () => {
    let rejection: unknown
    const { url } = await serve(async (s) => {
      rejection = await s.send(undefined).catch((e) => e)
      s.complete()
    })
    const wire = await readWire(url)
    expect(wire.body).toBe('')
    expect(isSluiceError(rejection, 'INVALID_ARGUMENT')).toBe(true)
  })
})

describe('how a stream ends', () => {
  it('times out: onTimeout may send a last event, then the stream ends with reason timeout', async () => {
    let stream!: EventStream
    const completions: CloseReason[] = []
    const { url } = await serve(
      (s) => {
        stream = s
        s.onTimeout(() => void s.send({ event: 'bye', data: 'timed out' }))
        s.onCompletion((r) => completions.push(r))
        void s.send('hello')
      },
      { timeout: 250, heartbeat: 0 },
    )
    const wire = await readWire(url)
    expect(wire.events.map((e) => [e.event, e.data])).toEqual([
      ['', 'hello'],
      ['bye', 'timed out'],
    ])
    expect(wire.endedAt).toBeGreaterThanOrEqual(240)
    expect(await stream.closed).toBe('timeout')
    expect((stream.signal.reason as StreamClosedError).reason).toBe('timeout')
    expect(completions).toEqual(['timeout'])
  })

  it('timeout 0 (the default) never times out', async () => {
    let stream!: EventStream
    const { url } = await serve((s) => {
      stream = s
    })
    const wire = await readWire(url, { stopAfterMs: 400 })
    expect(wire.events).toEqual([])
    await waitUntil(() => stream.isClosed)
    expect(stream.closeReason).toBe('disconnect')
  })

  it('completeWithError writes an error event safe to show, calls onError, ends with reason error', async () => {
    const errors: unknown[] = []
    let stream!: EventStream
    const secret = new Error('connect ECONNREFUSED db-internal:5432 password=hunter2')
    const { url } = await serve(async (s) => {
      stream = s
      s.onError((e) => errors.push(e))
      await s.send({ event: 'token', data: 'partial' })
      s.completeWithError(secret)
    })
    const wire = await readWire(url)
    expect(wire.events.map((e) => e.event)).toEqual(['token', 'error'])
    const payload = JSON.parse(wire.events[1].data)
    expect(payload.error).toBe('INTERNAL')
    expect(wire.body).not.toContain('hunter2')
    expect(errors).toEqual([secret])
    expect(await stream.closed).toBe('error')
    expect(stream.signal.aborted).toBe(true)
    expect((stream.signal.reason as StreamClosedError).reason).toBe('error')
  })

  it('a producer that throws ends its stream with completeWithError (formatError decides the frame)', async () => {
    const { url } = await serve(
      (s) => {
        void s.send('one')
        s.completeWithError(new Error('boom'))
      },
      { formatError: (e) => ({ event: 'failure', data: { reason: (e as Error).message } }) },
    )
    const wire = await readWire(url)
    expect(wire.events.map((e) => [e.event, e.data])).toEqual([
      ['', 'one'],
      ['failure', '{"reason":"boom"}'],
    ])
  })

  it('a client that disconnects aborts the signal within one second, with reason disconnect', async () => {
    let stream!: EventStream
    let stoppedAfter = -1
    let sent = 0
    const errors: unknown[] = []
    const { url } = await serve((s) => {
      stream = s
      s.onError((e) => errors.push(e))
      const timer = setInterval(() => {
        s.send({ data: String(++sent) }).catch(() => {})
      }, 20)
      s.signal.addEventListener('abort', () => clearInterval(timer))
    })
    const controller = new AbortController()
    const res = await fetch(url, { signal: controller.signal })
    const reader = res.body!.getReader()
    await reader.read()
    controller.abort()
    stoppedAfter = await waitUntil(() => stream.signal.aborted, 5000, 'the disconnect')
    expect(stoppedAfter).toBeLessThan(1000)
    expect(stream.signal.reason).toBeInstanceOf(StreamClosedError)
    expect((stream.signal.reason as StreamClosedError).reason).toBe('disconnect')
    expect(await stream.closed).toBe('disconnect')
    // Leaving is the client's right, not a server error.
    expect(errors).toEqual([])
    const sentAtAbort = sent
    await sleep(150) // a bounded quiet wait: nothing more may be sent
    expect(sent).toBe(sentAtAbort)
  })

  it('a response ended behind the stream’s back ends the stream too (no leaked heartbeat)', async () => {
    let stream!: EventStream
    server = await startServer((req, res) => {
      stream = createEventStream(req, res, { heartbeat: 50 })
      void stream.send('x')
      res.end()
    })
    const wire = await readWire(server.url)
    expect(wire.events.map((e) => e.data)).toEqual(['x'])
    expect(await stream.closed).toBe('disconnect')
    expect(heartbeatTimerCount()).toBe(0)
  })

  it('runs every onCompletion listener exactly once, and late ones too', async () => {
    let stream!: EventStream
    const calls: string[] = []
    const { url } = await serve((s) => {
      stream = s
      s.onCompletion((r) => calls.push(`a:${r}`))
      s.onCompletion(() => {
        throw new Error('a throwing listener does not stop the others')
      })
      s.onCompletion((r) => calls.push(`b:${r}`))
      s.complete()
      s.complete()
    })
    await readWire(url)
    stream.onCompletion((r) => calls.push(`late:${r}`))
    await waitUntil(() => calls.includes('late:complete'), 5000, 'the late listener')
    expect(calls).toEqual(['a:complete', 'b:complete', 'late:complete'])
  })
})

describe('heartbeats', () => {
  it('writes a comment about every interval on an idle stream', async () => {
    const { url } = await serve(
      () => {
        // Send nothing: only heartbeats go out.
      },
      { heartbeat: 150 },
    )
    // Idle: nothing sent for 1.2 s; about 8 heartbeats are due (0.75-1 interval apart).
    const idle = await readWire(url, { stopAfterMs: 1200 })
    expect(idle.events).toEqual([])
    expect(idle.comments.every((c) => c === '')).toBe(true)
    expect(idle.comments.length).toBeGreaterThanOrEqual(4)
    expect(idle.comments.length).toBeLessThanOrEqual(12)
    // Never far past the interval: a liveness bound of three intervals. The
    // server and this reader share one event loop, so on a loaded 2-core CI
    // machine a gap of 2 intervals + 15 ms was seen (a full-suite run). The
    // count above (at least 4 in 1.2 s) still catches missing heartbeats.
    const gaps = idle.arrivals.slice(1).map((a, i) => a.at - idle.arrivals[i].at)
    for (const gap of gaps) expect(gap).toBeLessThan(150 * 3)
  })

  it('does not heartbeat a stream that is writing more often than the interval', async () => {
    const { url } = await serve(
      (s) => {
        let n = 0
        const timer = setInterval(() => {
          s.send(String(++n)).catch(() => {})
          if (n === 20) {
            clearInterval(timer)
            s.complete()
          }
        }, 20)
      },
      { heartbeat: 400 },
    )
    const wire = await readWire(url)
    expect(wire.events).toHaveLength(20)
    expect(wire.comments).toEqual([])
  })

  it('drives every stream from one shared timer', async () => {
    const streams: EventStream[] = []
    const { url } = await serve((s) => streams.push(s), { heartbeat: 120 })
    const reads = Array.from({ length: 40 }, () => readWire(url, { stopAfterMs: 500 }))
    await waitUntil(() => streams.length === 40)
    expect(heartbeatTimerCount()).toBe(1)
    const wires = await Promise.all(reads)
    for (const w of wires) expect(w.comments.length).toBeGreaterThanOrEqual(1)
    await waitUntil(() => streams.every((s) => s.isClosed))
    expect(heartbeatTimerCount()).toBe(0)
  })
})

describe('heartbeats behind a backlog', () => {
  it('writes no heartbeat while bytes are waiting for a client that does not read', async () => {
    let stream!: EventStream
    const { port } = await serve(
      (s) => {
        stream = s
      },
      { heartbeat: 40, maxBufferedBytes: 64 * 1024 * 1024 },
    )
    const socket = await stalledClient(port)
    await waitUntil(() => stream !== undefined)
    // Fill the kernel's socket buffers (they grow for a while) and leave a backlog in node's.
    const chunk = 'b'.repeat(64 * 1024)
    for (let round = 0; round < 40; round++) {
      while (stream.bufferedBytes < 1024 * 1024) void stream.send(chunk)
      await sleep(100)
      if (stream.bufferedBytes > 512 * 1024) break
    }
    expect(stream.bufferedBytes).toBeGreaterThan(0)
    const before = streamStats.heartbeats
    await sleep(300) // a bounded quiet wait (7 heartbeat intervals): no heartbeat may be queued
    expect(stream.bufferedBytes).toBeGreaterThan(0)
    expect(streamStats.heartbeats).toBe(before)
    socket.destroy()
    expect(await stream.closed).toBe('disconnect')
  })
})

describe('backpressure and slow consumers', () => {
  it('an awaiting producer follows a client that stops reading: memory stays at the high-water mark', async () => {
    let stream!: EventStream
    let sent = 0
    let maxBuffered = 0
    // The transport's high-water mark, read from it (16 KiB on Node 20, 64 KiB on 22+).
    let highWaterMark = 0
    const chunk = 'x'.repeat(4096)
    let producer!: Promise<void>
    const { url } = await serve(
      (s, res) => {
        stream = s
        highWaterMark = res.writableHighWaterMark
        producer = (async () => {
          for (let i = 0; i < 4000 && !s.isClosed; i++) {
            await s.send(chunk)
            sent++
            maxBuffered = Math.max(maxBuffered, s.bufferedBytes)
          }
          s.complete()
        })()
      },
      { heartbeat: 0, maxBufferedBytes: 256 * 1024 },
    )
    // Open the stream, read a little, then stop reading for a while.
    const received: number[] = []
    const req = request(url)
    const res = await new Promise<import('node:http').IncomingMessage>((resolve) => {
      req.on('response', resolve)
      req.end()
    })
    let bytes = 0
    res.on('data', (d: Buffer) => {
      bytes += d.length
      received.push(d.length)
    })
    await waitUntil(() => bytes > 0)
    res.pause()
    // The producer runs ahead only until the kernel and node buffers fill, then waits.
    // Wait (bounded) until it has made no progress for 150 ms.
    for (let i = 0, last = -1; i < 30 && sent !== last; i++) {
      last = sent
      await sleep(150)
    }
    const stalledAt = sent
    await sleep(400) // a bounded quiet wait: the stalled producer may not move on
    expect(sent).toBe(stalledAt)
    expect(sent).toBeLessThan(4000)
    expect(stream.isClosed).toBe(false)
    // Awaited sends never go past the high-water mark plus one event.
    expect(highWaterMark).toBeGreaterThan(0)
    expect(maxBuffered).toBeLessThanOrEqual(highWaterMark + chunk.length + 64)
    // Reading again lets it finish.
    res.resume()
    await producer
    await new Promise((r) => res.on('end', r))
    expect(sent).toBe(4000)
    expect(bytes).toBe(4000 * (chunk.length + 7))
    expect(await stream.closed).toBe('complete')
  })

  it('a producer that does not await is cut at maxBufferedBytes with slow-consumer, counted and reported', async () => {
    let stream!: EventStream
    const errors: unknown[] = []
    let maxBuffered = 0
    let attempts = 0
    const cap = 256 * 1024
    const before = streamStats.closed['slow-consumer']
    const { port } = await serve(
      (s) => {
        stream = s
        s.onError((e) => errors.push(e))
        const chunk = 'y'.repeat(8192)
        const started = Date.now()
        const burst = (): void => {
          // Fire and forget, as a careless producer would.
          for (let i = 0; i < 32 && !s.isClosed; i++) {
            void s.send(chunk)
            attempts++
            maxBuffered = Math.max(maxBuffered, s.bufferedBytes)
          }
          if (!s.isClosed && attempts < 200_000 && Date.now() - started < 10_000)
            setImmediate(burst)
        }
        burst()
      },
      { heartbeat: 0, maxBufferedBytes: cap },
    )
    const socket = await stalledClient(port)
    expect(await Promise.race([stream.closed, sleep(10_000).then(() => 'still open')])).toBe(
      'slow-consumer',
    )
    socket.destroy()
    expect(maxBuffered).toBeLessThanOrEqual(cap)
    expect(streamStats.closed['slow-consumer']).toBe(before + 1)
    expect(errors).toHaveLength(1)
    expect(isSluiceError(errors[0], 'SLOW_CONSUMER')).toBe(true)
    expect((stream.signal.reason as StreamClosedError).reason).toBe('slow-consumer')
    // A send after the cut is refused, loudly.
    await expect(stream.send('late')).rejects.toMatchObject({ code: 'STREAM_CLOSED' })
  })
})
