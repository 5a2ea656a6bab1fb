/**
 * What fetchEventSource puts on the wire, counted at a real node:http server:
 * backoff intervals within their bounds, 204 stops, a 404 is one request, a 503
 * retries with growing delays, nothing after abort(), the POST body and fresh
 * headers on every attempt, Last-Event-ID (also from an id-only block), the
 * idle watchdog, Retry-After, and the size bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SluiceError, fetchEventSource, type EventSourceMessage } from '../../src/client/index.js'
import { backoffBounds } from '../../src/client/retry.js'
import { freePort } from '../helpers/external.js'
import { sleep } from '../helpers/wait.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
})
afterAll(async () => {
  await fx.close()
})

const gaps = (path: string) => {
  const at = fx.hits(path).map((r) => r.at)
  return at.slice(1).map((t, i) => t - at[i])
}
let n = 0
/** A fresh path per test, so counts never mix. */
const path = (name: string) => `/${name}-${++n}`

describe('status handling', () => {
  it('a 204 stops: the promise resolves and no second request is made', async () => {
    const p = path('no-content')
    fx.route(p, (_req, res) => {
      res.writeHead(204)
      res.end()
    })
    const calls: string[] = []
    await fetchEventSource(fx.origin + p, {
      onopen: async () => void calls.push('open'),
      onclose: () => void calls.push('close'),
      onerror: () => void calls.push('error'),
    })
    await sleep(300) // a bounded quiet wait: no request may follow
    expect(fx.hits(p)).toHaveLength(1)
    expect(calls).toEqual([])
  })

  it('a 404 is exactly one request and a SluiceError with the status and a body snippet', async () => {
    const p = path('missing')
    fx.route(p, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'NOT_FOUND', message: 'no such topic' }))
    })
    const errors: unknown[] = []
    const err = await fetchEventSource(fx.origin + p, {
      onerror: (e) => void errors.push(e),
    }).catch((e) => e)
    await sleep(300) // a bounded quiet wait: no request may follow
    expect(fx.hits(p)).toHaveLength(1)
    expect(err).toBeInstanceOf(SluiceError)
    expect(err.code).toBe('BAD_STATUS')
    expect(err.details.status).toBe(404)
    expect(err.details.body).toContain('no such topic')
    expect(err.message).toContain('404')
    expect(errors).toEqual([err]) // onerror was told once, and the policy stopped
  })

  it('a wrong content type is final: BAD_CONTENT_TYPE, one request, no flat 1 s loop', async () => {
    const p = path('html')
    fx.route(p, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!doctype html><title>dev server index</title>')
    })
    const err = await fetchEventSource(fx.origin + p, {}).catch((e) => e)
    await sleep(200) // a bounded quiet wait: no request may follow
    expect(fx.hits(p)).toHaveLength(1)
    expect(err.code).toBe('BAD_CONTENT_TYPE')
    expect(err.details.contentType).toBe('text/html')
    expect(err.details.body).toContain('dev server index')
  })

  it('a 503 retries with growing delays (no jitter) and gives up after maxRetries', async () => {
    const p = path('unavailable')
    fx.route(p, (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' })
      res.end('busy')
    })
    const retries: number[] = []
    const err = await fetchEventSource(fx.origin + p, {
      retry: { initialDelay: 40, factor: 2, jitter: 0, maxRetries: 4 },
      onretry: (r) => void retries.push(r.delay),
    }).catch((e) => e)
    expect(err.code).toBe('RETRIES_EXHAUSTED')
    expect(err.cause.code).toBe('BAD_STATUS')
    expect(retries).toEqual([40, 80, 160, 320])
    expect(fx.hits(p)).toHaveLength(5)
    const g = gaps(p)
    expect(g).toHaveLength(4)
    for (let i = 0; i < g.length; i++) {
      expect(g[i]).toBeGreaterThanOrEqual(retries[i] - 5)
      // Growing on the wire: each gap beats the one two before it (by 120 ms or
      // 240 ms when on time). Neighbours differ by only 40 ms, which one timer
      // running late on a loaded machine can undo.
      if (i > 1) expect(g[i]).toBeGreaterThan(g[i - 2])
    }
  })

  it('backoff intervals with jitter stay within their bounds on the wire', async () => {
    const p = path('jitter')
    fx.route(p, (_req, res) => {
      res.writeHead(502)
      res.end()
    })
    const opts = { initialDelay: 50, factor: 2, jitter: 0.5, maxRetries: 5 }
    const retries: number[] = []
    await fetchEventSource(fx.origin + p, {
      retry: opts,
      onretry: (r) => void retries.push(r.delay),
    }).catch(() => {})
    const g = gaps(p)
    expect(g).toHaveLength(5)
    g.forEach((gap, i) => {
      const [lo, hi] = backoffBounds(50, i, opts)
      expect(retries[i]).toBeGreaterThanOrEqual(lo)
      expect(retries[i]).toBeLessThanOrEqual(hi)
      expect(gap).toBeGreaterThanOrEqual(lo - 5)
      expect(gap).toBeLessThan(hi + 500) // generous: a loaded 2-core machine
    })
  })

  it('429 honours Retry-After', async () => {
    const p = path('limited')
    fx.route(p, (_req, res, { n }) => {
      if (n === 0) {
        res.writeHead(429, { 'retry-after': '1' })
        res.end()
      } else {
        res.writeHead(204)
        res.end()
      }
    })
    await fetchEventSource(fx.origin + p, { retry: { initialDelay: 10 } })
    expect(fx.hits(p)).toHaveLength(2)
    expect(gaps(p)[0]).toBeGreaterThanOrEqual(990)
  })

  it('network errors retry with backoff, then RETRIES_EXHAUSTED carries the cause', async () => {
    const port = await freePort() // nothing listens here
    const errors: unknown[] = []
    const err = await fetchEventSource(`http://127.0.0.1:${port}/`, {
      retry: { initialDelay: 10, maxRetries: 2 },
      onerror: (e) => void errors.push(e),
    }).catch((e) => e)
    expect(errors).toHaveLength(3)
    expect(err.code).toBe('RETRIES_EXHAUSTED')
    expect(err.cause).toBeInstanceOf(TypeError)
  })
})

describe('abort', () => {
  it('after abort() no further request is made, and onabort is told', async () => {
    const p = path('abort')
    fx.route(p, (_req, res) => {
      sseHead(res)
      res.end('data: one\n\n') // a clean end: a GET would reconnect
    })
    const ctrl = new AbortController()
    const seen: string[] = []
    await fetchEventSource(fx.origin + p, {
      signal: ctrl.signal,
      retry: { initialDelay: 20 },
      onmessage: (m) => {
        seen.push(m.data)
        ctrl.abort()
      },
      onabort: () => void seen.push('aborted'),
    })
    await sleep(300) // a bounded quiet wait: no request may follow
    expect(seen).toEqual(['one', 'aborted'])
    expect(fx.hits(p)).toHaveLength(1)
  })

  it('abort during a retry wait cancels the wait and the next request', async () => {
    const p = path('abort-wait')
    fx.route(p, (_req, res) => {
      res.writeHead(503)
      res.end()
    })
    const ctrl = new AbortController()
    const started = Date.now()
    await fetchEventSource(fx.origin + p, {
      signal: ctrl.signal,
      retry: { initialDelay: 400 },
      onretry: () => setTimeout(() => ctrl.abort(), 50),
    })
    expect(Date.now() - started).toBeLessThan(400)
    await sleep(500) // a bounded quiet wait: no request may follow
    expect(fx.hits(p)).toHaveLength(1)
  })

  it("the guide's onerror that aborts the controller makes no further request", async () => {
    const p = path('guide-onerror')
    fx.route(p, (_req, res) => {
      res.writeHead(500)
      res.end()
    })
    const ctrl = new AbortController()
    await fetchEventSource(fx.origin + p, {
      signal: ctrl.signal,
      retry: { initialDelay: 20 },
      onerror: () => {
        ctrl.abort()
      },
    })
    await sleep(200) // a bounded quiet wait: no request may follow
    expect(fx.hits(p)).toHaveLength(1)
  })
})

describe('every attempt', () => {
  it('resends the POST body, and calls the headers function again (fresh token)', async () => {
    const p = path('post')
    fx.route(p, (_req, res, { n }) => {
      if (n === 0) {
        res.writeHead(503)
        res.end()
        return
      }
      sseHead(res)
      res.end('data: answered\n\n')
    })
    let token = 0
    const got: string[] = []
    await fetchEventSource(fx.origin + p, {
      method: 'POST',
      headers: () => ({ 'content-type': 'application/json', authorization: `Bearer t${++token}` }),
      body: JSON.stringify({ message: 'hi' }),
      retry: { initialDelay: 20 },
      onmessage: (m) => void got.push(m.data),
    })
    const hits = fx.hits(p)
    expect(hits).toHaveLength(2) // a POST is not replayed after a clean end
    expect(hits.map((h) => h.body)).toEqual(['{"message":"hi"}', '{"message":"hi"}'])
    expect(hits.map((h) => h.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2'])
    expect(hits.map((h) => h.headers['content-type'])).toEqual([
      'application/json',
      'application/json',
    ])
    expect(hits.map((h) => h.headers.accept)).toEqual(['text/event-stream', 'text/event-stream'])
    expect(got).toEqual(['answered'])
  })

  it('a body function makes a body per attempt; an async headers function is awaited per attempt', async () => {
    const p = path('body-fn')
    fx.route(p, (_req, res, { n }) => {
      if (n < 2) {
        res.writeHead(503)
        res.end()
      } else {
        res.writeHead(204)
        res.end()
      }
    })
    let k = 0
    await fetchEventSource(fx.origin + p, {
      method: 'POST',
      body: () => JSON.stringify({ attempt: ++k }),
      headers: async () => {
        await sleep(5)
        return { 'x-attempt': String(k + 1) }
      },
      retry: { initialDelay: 10 },
    })
    expect(fx.hits(p).map((h) => [h.headers['x-attempt'], h.body])).toEqual([
      ['1', '{"attempt":1}'],
      ['2', '{"attempt":2}'],
      ['3', '{"attempt":3}'],
    ])
  })

  it('retry.deadline ends an outage with RETRIES_EXHAUSTED', async () => {
    const p = path('deadline')
    fx.route(p, (_req, res) => {
      res.writeHead(503)
      res.end()
    })
    const started = Date.now()
    // Waits of 50, 200, 800, 3200 ms: attempts at about 0, 50, 250 and 1050 ms
    // after the first failure; the fifth (at 4250 ms or later) would pass the
    // deadline. The deadline sits far from both, so a loaded machine's lag
    // cannot change the count (with 50/100/200/400 and a 650 ms deadline, 300 ms
    // of lag dropped the fourth attempt in a loaded run).
    const err = await fetchEventSource(fx.origin + p, {
      retry: { initialDelay: 50, factor: 4, jitter: 0, deadline: 2500 },
    }).catch((e) => e)
    expect(err.code).toBe('RETRIES_EXHAUSTED')
    expect(err.details.deadline).toBe(2500)
    expect(fx.hits(p)).toHaveLength(4)
    const g = gaps(p)
    for (const [i, wait] of [50, 200, 800].entries()) expect(g[i]).toBeGreaterThanOrEqual(wait - 5)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('sends Last-Event-ID from the committed id, including an id-only block; a GET reconnects after a clean end', async () => {
    const p = path('ids')
    fx.route(p, (req, res, { n }) => {
      if (n === 0) {
        sseHead(res)
        res.end('id: 1\ndata: a\n\nid: 7\n\n') // an id-only block still commits 7
      } else if (n === 1) {
        sseHead(res)
        res.end(
          `retry: 30\ndata: resumed from ${req.headers['last-event-id']}\n\nid: 8\ndata: b\nid: 99`,
        )
      } else {
        res.writeHead(204)
        res.end()
      }
    })
    const got: EventSourceMessage[] = []
    await fetchEventSource(fx.origin + p, {
      retry: { initialDelay: 20 },
      onmessage: (m) => void got.push(m),
    })
    expect(fx.hits(p).map((h) => h.headers['last-event-id'])).toEqual([undefined, '7', '7'])
    expect(got).toEqual([
      { id: '1', event: '', data: 'a' },
      { id: '7', event: '', data: 'resumed from 7', retry: 30 },
    ])
  })

  it('an initial lastEventId option is sent on the first request', async () => {
    const p = path('initial-id')
    fx.route(p, (_req, res) => {
      res.writeHead(204)
      res.end()
    })
    await fetchEventSource(fx.origin + p, { lastEventId: 'run-3:41' })
    expect(fx.hits(p)[0].headers['last-event-id']).toBe('run-3:41')
  })

  it("the server's retry: sets the base of the backoff", async () => {
    const p = path('server-retry')
    fx.route(p, (_req, res, { n }) => {
      if (n === 0) {
        sseHead(res)
        res.end('retry: 300\ndata: x\n\n')
      } else {
        res.writeHead(204)
        res.end()
      }
    })
    const delays: number[] = []
    await fetchEventSource(fx.origin + p, { onretry: (r) => void delays.push(r.delay) })
    const [lo, hi] = backoffBounds(300, 0)
    expect(delays[0]).toBeGreaterThanOrEqual(lo)
    expect(delays[0]).toBeLessThanOrEqual(hi)
    expect(gaps(p)[0]).toBeGreaterThanOrEqual(lo - 5)
  })
})

describe('watchdog and bounds', () => {
  it('heartbeatTimeout reestablishes a stalled stream, resuming from the last id', async () => {
    const p = path('stall')
    fx.route(p, (req, res, { n }) => {
      sseHead(res)
      if (n === 0)
        res.write('id: 1\ndata: before the stall\n\n') // then nothing, forever
      else res.end(`data: after, from ${req.headers['last-event-id']}\n\n`)
    })
    const ctrl = new AbortController()
    const got: string[] = []
    const errors: string[] = []
    await fetchEventSource(fx.origin + p, {
      signal: ctrl.signal,
      heartbeatTimeout: 600,
      retry: { initialDelay: 10 },
      onerror: (e) => void errors.push(e.code),
      onmessage: (m) => {
        got.push(m.data)
        if (got.length === 2) ctrl.abort()
      },
    })
    expect(got).toEqual(['before the stall', 'after, from 1'])
    expect(errors).toEqual(['TIMEOUT'])
    expect(fx.hits(p)).toHaveLength(2)
  })

  it('comments keep the watchdog fed', async () => {
    const p = path('heartbeats')
    fx.route(p, async (_req, res) => {
      sseHead(res)
      for (let i = 0; i < 6; i++) {
        res.write(': ping\n\n')
        await sleep(100)
      }
      res.end('data: done\n\n')
    })
    const errors: unknown[] = []
    const got: string[] = []
    await fetchEventSource(fx.origin + p, {
      method: 'POST',
      heartbeatTimeout: 1000, // 10 heartbeats' worth
      onerror: (e) => void errors.push(e),
      onmessage: (m) => void got.push(m.data),
    })
    expect(errors).toEqual([])
    expect(got).toEqual(['done'])
  })

  it('maxEventSize: an oversized event is reported and skipped, the stream goes on', async () => {
    const p = path('big')
    fx.route(p, (_req, res) => {
      sseHead(res)
      res.end(`data: ${'x'.repeat(5000)}\n\ndata: small\n\n`)
    })
    const got: string[] = []
    const problems: string[] = []
    await fetchEventSource(fx.origin + p, {
      method: 'POST',
      maxEventSize: 1000,
      onparseerror: (e) => void problems.push(e.code),
      onmessage: (m) => void got.push(m.data),
    })
    expect(problems).toEqual(['EVENT_TOO_LARGE'])
    expect(got).toEqual(['small'])
  })
})

describe('no retry storms', () => {
  it('a server that accepts and drops at once, with no event, gets growing delays, then the budget ends', async () => {
    const p = path('drop')
    fx.route(p, (_req, res) => {
      sseHead(res)
      res.end()
    })
    const delays: number[] = []
    const err = await fetchEventSource(fx.origin + p, {
      retry: { initialDelay: 20, jitter: 0, maxRetries: 4 },
      onretry: (r) => void delays.push(r.delay),
    }).catch((e) => e)
    expect(delays).toEqual([20, 40, 80, 160])
    expect(err.code).toBe('RETRIES_EXHAUSTED')
    expect(fx.hits(p)).toHaveLength(5)
  })

  it('an event resets the backoff: each reconnection after a delivered event waits the base', async () => {
    const p = path('deliver-then-drop')
    fx.route(p, (_req, res, { n }) => {
      sseHead(res)
      if (n < 3) res.end(`id: ${n}\ndata: ${n}\n\n`)
      else res.end()
    })
    const ctrl = new AbortController()
    const delays: number[] = []
    await fetchEventSource(fx.origin + p, {
      signal: ctrl.signal,
      retry: { initialDelay: 20, jitter: 0 },
      onretry: (r) => {
        delays.push(r.delay)
        if (delays.length === 5) ctrl.abort()
      },
    })
    expect(delays).toEqual([20, 20, 20, 40, 80])
  })
})
