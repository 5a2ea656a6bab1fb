/**
 * Compatibility with @microsoft/fetch-event-source, in headless Chromium: the
 * same scenarios drive both implementations (compat-browser-entry.ts) against
 * the same fixture routes. Where fetch-event-source is right, the callback
 * sequences are identical; each listed bug fix is asserted the fixed way, next
 * to what fetch-event-source does (docs/client.md, "Differences").
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { fetchEventSource as fes } from '@microsoft/fetch-event-source'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchEventSource } from '../../src/client/index.js'
import { describeExternal } from '../helpers/external.js'
import { type Browser, bundle, openPage } from '../fixtures/browser.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

type Route = (req: IncomingMessage & { body: string }, res: ServerResponse, n: number) => void

const routes: Record<string, Route> = {
  basic: (_q, res) => {
    sseHead(res)
    res.write('id: 1\ndata: a\n\nid: 2\nevent: tick\ndata: b\n\n')
  },
  'fatal-onopen': (_q, res) => {
    res.writeHead(403, { 'content-type': 'application/json' })
    res.end('{"error":"FORBIDDEN","message":"no"}')
  },
  'onerror-number': (_q, res, n) => {
    if (n === 0) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('nope')
    } else {
      sseHead(res)
      res.write('id: 1\ndata: ok\n\n')
    }
  },
  'onclose-throw': (_q, res, n) => {
    sseHead(res)
    const event = `retry: 50\nid: ${n + 1}\ndata: part ${n + 1}\n\n`
    // The first response ends (onclose throws to retry); the second stays open
    // until the client aborts. (Were it to end too, fetch-event-source might
    // call onclose after the abort, depending on timing.)
    if (n === 0) res.end(event)
    else res.write(event)
  },
  headers: (q, res) => {
    sseHead(res)
    res.write(`data: ${q.headers['x-token']}|${q.headers.accept}\n\n`)
  },
  'heartbeat-comments': (_q, res) => {
    sseHead(res)
    res.write(': ping\n\ndata: x\n\n')
  },
  'leading-empty-data': (_q, res) => {
    sseHead(res)
    res.write('data:\ndata: x\n\n')
  },
  'id-in-force': (_q, res) => {
    sseHead(res)
    res.write('id: 1\ndata: a\n\ndata: b\n\n')
  },
  'accept-case': (q, res) => {
    sseHead(res)
    res.write(`data: ${q.headers.accept}\n\n`)
  },
  'wrong-type': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>index</title>')
  },
  'no-backoff': (_q, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' })
    res.end('busy')
  },
  'status-404': (_q, res) => {
    res.writeHead(404, { 'content-type': 'text/event-stream' })
    res.end('data: not found\n\n')
  },
  'status-204': (_q, res) => {
    res.writeHead(204)
    res.end()
  },
  'abort-callback': (_q, res) => {
    sseHead(res)
    res.write('data: one\n\n')
  },
  'clean-end': (q, res, n) => {
    sseHead(res)
    if (n === 0) res.end('id: 1\ndata: a\n\n')
    else res.write(`data: again from ${q.headers['last-event-id']}\n\n`)
  },
  visibility: (_q, res, n) => {
    sseHead(res)
    res.write(`id: ${n}\ndata: connection ${n}\n\n`)
  },
  'guide-onerror-abort': (_q, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' })
    res.end('oops')
  },
}

const m = (id: string, event: string, data: string) =>
  'message ' + JSON.stringify([id, event, data])

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
  for (const [name, route] of Object.entries(routes)) {
    for (const impl of ['fes', 'sluice']) {
      fx.route(`/c/${name}/${impl}`, (req, res, { n }) => route(req, res, n))
    }
  }
})
afterAll(async () => {
  await fx.close()
})

const gaps = (name: string, impl: string) => {
  const at = fx.hits(`/c/${name}/${impl}`).map((r) => r.at)
  return at.slice(1).map((t, i) => t - at[i])
}

describe('in Node', () => {
  it('fetch-event-source needs `document`; sluice runs wherever fetch runs', async () => {
    const err = await fes(fx.origin + '/c/basic/fes', {}).catch((e) => e)
    expect(err).toBeInstanceOf(ReferenceError)
    expect(String(err)).toContain('document is not defined')
    const ctrl = new AbortController()
    const got: string[] = []
    await fetchEventSource(fx.origin + '/c/basic/sluice', {
      signal: ctrl.signal,
      onmessage: (ev) => {
        got.push(ev.data)
        if (got.length === 2) ctrl.abort()
      },
    })
    expect(got).toEqual(['a', 'b'])
  })
})

describeExternal(['chromium'], 'fetch-event-source vs sluice in headless Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    const script = await bundle(
      fileURLToPath(new URL('./compat-browser-entry.ts', import.meta.url)),
    )
    fx.static(
      '/worker.js',
      await bundle(fileURLToPath(new URL('./compat-worker-entry.ts', import.meta.url))),
      'text/javascript; charset=utf-8',
    )
    browser = await openPage(fx, script)
  })
  afterAll(async () => {
    await browser?.close()
  })
  const both = async (name: string): Promise<{ fes: string[]; sluice: string[] }> => {
    const [a, b] = await Promise.all(
      ['fes', 'sluice'].map((impl) =>
        browser.page.evaluate(([i, n]) => (globalThis as any).runCompat(i, n), [impl, name]),
      ),
    )
    return { fes: a, sluice: b }
  }

  describe('identical callback sequences', () => {
    const same: Record<string, string[]> = {
      basic: ['open 200', m('1', '', 'a'), m('2', 'tick', 'b'), 'resolved'],
      'fatal-onopen': ['open 403', 'error FatalError', 'rejected FatalError'],
      'onerror-number': ['error', m('1', '', 'ok'), 'resolved'],
      'onclose-throw': [
        'open 200',
        m('1', '', 'part 1'),
        'close',
        'error RetriableError',
        'open 200',
        m('2', '', 'part 2'),
        'resolved',
      ],
      headers: [m('', '', 'abc|text/event-stream'), 'resolved'],
    }
    for (const [name, expected] of Object.entries(same)) {
      it(name, async () => {
        const logs = await both(name)
        expect(logs.fes).toEqual(expected)
        expect(logs.sluice).toEqual(expected)
      })
    }
    it('visibility: hidden closes the stream, visible reconnects with Last-Event-ID (run one at a time)', async () => {
      const expected = [
        'open 200',
        m('0', '', 'connection 0'),
        'hidden',
        'visible',
        'open 200',
        m('1', '', 'connection 1'),
        'resolved',
      ]
      for (const impl of ['fes', 'sluice']) {
        const log = await browser.page.evaluate(
          ([i, n]) => (globalThis as any).runCompat(i, n),
          [impl, 'visibility'],
        )
        expect(log).toEqual(expected)
        const hits = fx.hits(`/c/visibility/${impl}`)
        expect(hits.map((h) => h.headers['last-event-id'])).toEqual([undefined, '0'])
        expect(hits[1].at - hits[0].at).toBeGreaterThanOrEqual(290) // nothing while hidden
      }
    })
    it('onclose-throw resent the POST body on the retry, in both', () => {
      for (const impl of ['fes', 'sluice']) {
        expect(fx.hits(`/c/onclose-throw/${impl}`).map((h) => h.body)).toEqual([
          '{"message":"hello"}',
          '{"message":"hello"}',
        ])
      }
    })
  })

  describe('bug fixes, asserted the fixed way', () => {
    it('runs in a Web Worker, where there is no document or window', async () => {
      const inWorker = (impl: string) =>
        browser.page.evaluate(
          ([i, url]) =>
            new Promise<string[]>((resolve) => {
              const w = new Worker('/worker.js')
              w.onmessage = (e) => {
                w.terminate()
                resolve(e.data)
              }
              w.postMessage({ impl: i, url })
            }),
          [impl, `${fx.origin}/c/basic/${impl}`],
        )
      expect(await inWorker('sluice')).toEqual(['a', 'b', 'resolved'])
      const fesLog = await inWorker('fes')
      expect(fesLog).toHaveLength(1)
      expect(fesLog[0]).toMatch(/^ReferenceError: (window|document) is not defined$/)
    })
    it('comment heartbeats do not fire empty onmessage calls', async () => {
      const logs = await both('heartbeat-comments')
      expect(logs.fes).toEqual([m('', '', ''), m('', '', 'x'), 'resolved'])
      expect(logs.sluice).toEqual([m('', '', 'x'), 'resolved'])
    })
    it('a leading empty data line is kept', async () => {
      const logs = await both('leading-empty-data')
      expect(logs.fes).toEqual([m('', '', 'x'), 'resolved'])
      expect(logs.sluice).toEqual([m('', '', '\nx'), 'resolved'])
    })
    it('`id` is the last event ID in force, as EventSource has it', async () => {
      const logs = await both('id-in-force')
      expect(logs.fes).toEqual([m('1', '', 'a'), m('', '', 'b'), 'resolved'])
      expect(logs.sluice).toEqual([m('1', '', 'a'), m('1', '', 'b'), 'resolved'])
    })
    it('an `Accept` header is not sent twice', async () => {
      const logs = await both('accept-case')
      expect(logs.fes).toEqual([m('', '', 'text/event-stream, text/event-stream'), 'resolved'])
      expect(logs.sluice).toEqual([m('', '', 'text/event-stream'), 'resolved'])
    })
    it('a wrong content type is final, not retried at a flat 1 s forever', async () => {
      const logs = await both('wrong-type')
      expect(logs.sluice).toEqual(['error', 'rejected BAD_CONTENT_TYPE'])
      expect(fx.hits('/c/wrong-type/sluice')).toHaveLength(1)
      expect(logs.fes.at(-1)).toBe('resolved') // only because the scenario aborted it
      expect(fx.hits('/c/wrong-type/fes').length).toBeGreaterThanOrEqual(2)
      for (const g of gaps('wrong-type', 'fes')) expect(g).toBeGreaterThanOrEqual(950)
    })
    it('retries back off instead of a flat interval', async () => {
      await both('no-backoff')
      const f = gaps('no-backoff', 'fes')
      const s = gaps('no-backoff', 'sluice')
      expect(f.length).toBeGreaterThanOrEqual(1)
      for (const g of f) expect(g).toBeGreaterThanOrEqual(950) // flat 1 s
      expect(s.length).toBeGreaterThanOrEqual(3)
      // 100, 200, 400, 800 ms (jitter 0): each gap is at least its delay, so they grow.
      for (const [i, g] of s.entries()) expect(g).toBeGreaterThanOrEqual(100 * 2 ** i - 5)
    })
    it('the status is checked: a 404 is not a stream, even with the right content type', async () => {
      const logs = await both('status-404')
      expect(logs.fes).toEqual([m('', '', 'not found'), 'close', 'resolved'])
      expect(logs.sluice).toEqual(['error', 'rejected BAD_STATUS'])
    })
    it('204 stops, instead of a retry every second', async () => {
      const logs = await both('status-204')
      expect(logs.sluice).toEqual(['resolved'])
      expect(fx.hits('/c/status-204/sluice')).toHaveLength(1)
      expect(logs.fes.filter((l) => l === 'error').length).toBeGreaterThanOrEqual(2)
      expect(fx.hits('/c/status-204/fes').length).toBeGreaterThanOrEqual(2)
    })
    it('abort() tells a callback (onabort)', async () => {
      const logs = await both('abort-callback')
      expect(logs.fes).toEqual([m('', '', 'one'), 'resolved'])
      expect(logs.sluice).toEqual([m('', '', 'one'), 'abort', 'resolved'])
    })
    it('a normal end of a GET stream reconnects with Last-Event-ID', async () => {
      const logs = await both('clean-end')
      expect(logs.fes).toEqual(['open 200', m('1', '', 'a'), 'close', 'resolved'])
      expect(logs.sluice).toEqual([
        'open 200',
        m('1', '', 'a'),
        'close',
        'open 200',
        m('1', '', 'again from 1'),
        'resolved',
      ])
    })
    it("the guide's onerror that aborts stops all requests", async () => {
      const logs = await both('guide-onerror-abort')
      expect(logs.sluice).toEqual(['error', 'resolved'])
      expect(fx.hits('/c/guide-onerror-abort/sluice')).toHaveLength(1)
      // fetch-event-source schedules the next attempt after onerror returns, aborted or not.
      expect(fx.hits('/c/guide-onerror-abort/fes').length).toBeGreaterThanOrEqual(2)
    })
  })
})
