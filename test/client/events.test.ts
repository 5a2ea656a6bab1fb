/**
 * events(): the engine as an async iterator — typed event names with a JSON
 * decoder, `break` closes the connection, a final error is thrown, abort ends
 * the loop, and a slow consumer pauses reading (bounded memory).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { events, isSluiceError } from '../../src/client/index.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
})
afterAll(async () => {
  await fx.close()
})

interface Summary {
  tokens: number
}

describe('events()', () => {
  it('yields typed events: the event name narrows the decoded data', async () => {
    fx.route('/chat', (_req, res) => {
      sseHead(res)
      res.end(
        'event: token\nid: 1\ndata: "Hel"\n\nevent: token\nid: 2\ndata: "lo"\n\n' +
          'event: done\nid: 3\ndata: {"tokens":2}\n\n',
      )
    })
    let text = ''
    let summary: Summary | undefined
    for await (const ev of events<{ token: string; done: Summary }>(fx.origin + '/chat', {
      method: 'POST',
      body: '{"message":"hi"}',
      decode: 'json',
    })) {
      if (ev.event === 'token')
        text += ev.data // string
      else summary = ev.data // Summary
    }
    expect(text).toBe('Hello')
    expect(summary).toEqual({ tokens: 2 })
  })

  it('unnamed events are called message; break closes the connection', async () => {
    let closed = false
    fx.route('/ticks', async (_req, res) => {
      sseHead(res)
      res.on('close', () => (closed = true))
      for (let i = 0; i < 100 && !res.destroyed; i++) {
        res.write(`id: ${i}\ndata: tick ${i}\n\n`)
        await new Promise((r) => setTimeout(r, 5))
      }
      res.end()
    })
    const got: string[] = []
    for await (const ev of events(fx.origin + '/ticks')) {
      got.push(`${ev.event} ${ev.data}`)
      if (got.length === 3) break
    }
    expect(got).toEqual(['message tick 0', 'message tick 1', 'message tick 2'])
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: 5000 })
    expect(fx.hits('/ticks')).toHaveLength(1)
  })

  it('throws a final error (a 401 is not retried)', async () => {
    fx.route('/private', (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"error":"UNAUTHORIZED","message":"token expired"}')
    })
    const err = await (async () => {
      for await (const _ of events(fx.origin + '/private')) void _
    })().catch((e) => e)
    expect(isSluiceError(err, 'BAD_STATUS')).toBe(true)
    expect(err.details).toMatchObject({ status: 401, final: true })
    expect(err.details.body).toContain('token expired')
  })

  it('a decode failure ends the loop with DECODE_FAILED', async () => {
    fx.route('/bad-json', (_req, res) => {
      sseHead(res)
      res.end('data: {"ok":1}\n\ndata: {not json\n\n')
    })
    const got: unknown[] = []
    const err = await (async () => {
      for await (const ev of events(fx.origin + '/bad-json', { decode: 'json' })) got.push(ev.data)
    })().catch((e) => e)
    expect(got).toEqual([{ ok: 1 }])
    expect(err.code).toBe('DECODE_FAILED')
  })

  it('abort ends the loop cleanly', async () => {
    fx.route('/forever', (_req, res) => {
      sseHead(res)
      res.write('data: first\n\n')
    })
    const ctrl = new AbortController()
    const got: string[] = []
    for await (const ev of events(fx.origin + '/forever', { signal: ctrl.signal })) {
      got.push(ev.data)
      ctrl.abort()
    }
    expect(got).toEqual(['first'])
  })

  it('a slow consumer pauses reading: the server sees backpressure instead of the client buffering', async () => {
    let written = 0
    let done = false
    fx.route('/flood', async (_req, res) => {
      sseHead(res)
      const line = `data: ${'y'.repeat(1000)}\n\n`
      // Write until the socket pushes back for a while (bounded: 20k events, 3 s).
      const until = Date.now() + 3000
      while (written < 20_000 && Date.now() < until && !res.destroyed) {
        if (!res.write(line)) await new Promise((r) => setTimeout(r, 5))
        written++
      }
      done = true
    })
    const it = events(fx.origin + '/flood', { highWaterMark: 8 })
    const first = await it.next()
    expect(first.done).toBe(false)
    await new Promise((r) => setTimeout(r, 500)) // consume nothing for a while: the server may not write it all
    await it.return!()
    // Had the client read without bound, all 20 000 events (20 MB) would have been accepted at once.
    expect(done && written === 20_000).toBe(false)
  })
})

describe('events() and the watchdog', () => {
  it('a slow consumer pausing the reads is not mistaken for a stalled server', async () => {
    fx.route('/slow-reader', async (_req, res) => {
      sseHead(res)
      res.write('data: 1\n\ndata: 2\n\n')
      // Heartbeats every 50 ms (bounded: 4 s); the third event comes after the client's pauses.
      for (let i = 0; i < 80 && !res.destroyed; i++) {
        res.write(i === 50 ? 'data: 3\n\n' : ': ping\n\n')
        await new Promise((r) => setTimeout(r, 50))
      }
      res.end()
    })
    const errors: unknown[] = []
    const got: string[] = []
    for await (const ev of events(fx.origin + '/slow-reader', {
      heartbeatTimeout: 600, // 12 heartbeats' worth: no false alarm on a loaded machine
      highWaterMark: 1,
      onerror: (e) => void errors.push(e),
    })) {
      got.push(ev.data)
      if (got.length === 3) break
      await new Promise((r) => setTimeout(r, 1000)) // longer than heartbeatTimeout
    }
    expect(got).toEqual(['1', '2', '3'])
    expect(errors).toEqual([])
    expect(fx.hits('/slow-reader')).toHaveLength(1)
  })
})
