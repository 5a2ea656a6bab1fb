/**
 * Resumable runs: a response that carries `Sluice-Resume-Url` is resumed by
 * GETting that URL (no body, no content type) with Last-Event-ID, in
 * fetchEventSource, events() and EventSource; and an application that knows
 * the URL (after a page reload) resumes with `events(url, { lastEventId })`.
 */
import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource, events, fetchEventSource } from '../../src/client/index.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
})
afterAll(async () => {
  await fx.close()
})

let runs = 0
/**
 * A toy "run": POST /runs-N starts it and streams tokens 1..2 then drops the
 * connection (as a proxy might); GET /runs-N/r resumes after Last-Event-ID and
 * finishes (tokens up to 4); once finished it answers 204.
 */
function startRun(relative: boolean): { start: string; resume: string } {
  const id = ++runs
  const start = `/runs-${id}`
  const resume = `/runs-${id}/r`
  const tokens = ['t1', 't2', 't3', 't4']
  const write = (res: ServerResponse, from: number, to: number) => {
    for (let i = from; i < to; i++) res.write(`id: ${i + 1}\ndata: ${tokens[i]}\n\n`)
  }
  fx.route(start, (_req, res) => {
    sseHead(res, { 'sluice-resume-url': relative ? `runs-${id}/r` : fx.origin + resume })
    write(res, 0, 2)
    res.end() // the connection drops mid-run
  })
  let finished = false
  fx.route(resume, (req, res) => {
    if (finished) {
      res.writeHead(204)
      res.end()
      return
    }
    sseHead(res)
    write(res, Number(req.headers['last-event-id'] ?? 0), 4)
    finished = true
    res.end()
  })
  return { start, resume }
}

function checkResumeRequests(resume: string, lastIds: (string | undefined)[]) {
  const hits = fx.hits(resume)
  expect(hits.map((h) => h.method)).toEqual(lastIds.map(() => 'GET'))
  expect(hits.map((h) => h.headers['last-event-id'])).toEqual(lastIds)
  for (const h of hits) {
    expect(h.body).toBe('')
    expect(h.headers['content-type']).toBeUndefined()
  }
}

describe('Sluice-Resume-Url', () => {
  it('fetchEventSource: a POST run that drops is resumed by GET with Last-Event-ID, then 204 ends it', async () => {
    const { start, resume } = startRun(true)
    const got: string[] = []
    await fetchEventSource(fx.origin + start, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'hello' }),
      retry: { initialDelay: 10 },
      onmessage: (m) => void got.push(`${m.id}:${m.data}`),
    })
    expect(got).toEqual(['1:t1', '2:t2', '3:t3', '4:t4'])
    expect(fx.hits(start)).toHaveLength(1) // the POST is never replayed
    checkResumeRequests(resume, ['2', '4'])
  })

  it('events(): the same, as an async iterator', async () => {
    const { start, resume } = startRun(false)
    const got: string[] = []
    for await (const ev of events(fx.origin + start, {
      method: 'POST',
      body: '{"message":"hello"}',
      retry: { initialDelay: 10 },
    })) {
      got.push(`${ev.id}:${ev.data}`)
    }
    expect(got).toEqual(['1:t1', '2:t2', '3:t3', '4:t4'])
    checkResumeRequests(resume, ['2', '4'])
  })

  it('EventSource: the same, with error events between connections, CLOSED at the 204', async () => {
    const { start, resume } = startRun(true)
    const log: string[] = []
    const source = new EventSource(fx.origin + start, {
      method: 'POST',
      body: '{"message":"hello"}',
      retry: { initialDelay: 10 },
    })
    await new Promise<void>((resolve) => {
      source.onopen = () => void log.push('open')
      source.onmessage = (e) => void log.push(`${e.lastEventId}:${e.data}`)
      source.onerror = () => {
        log.push('error:' + source.readyState)
        if (source.readyState === source.CLOSED) resolve()
      }
    })
    expect(log).toEqual([
      'open',
      '1:t1',
      '2:t2',
      'error:0',
      'open',
      '3:t3',
      '4:t4',
      'error:0',
      'error:2',
    ])
    checkResumeRequests(resume, ['2', '4'])
  })

  it('after a reload, an application resumes a run it knows the URL of', async () => {
    const { start, resume } = startRun(true)
    // The first page load: read two tokens, remember the resume URL and the id, then "reload".
    const ctrl = new AbortController()
    let resumeUrl = ''
    let lastId = ''
    await fetchEventSource(fx.origin + start, {
      method: 'POST',
      signal: ctrl.signal,
      onopen: async (res) => {
        resumeUrl = new URL(res.headers.get('sluice-resume-url')!, res.url).href
      },
      onmessage: (m) => {
        lastId = m.id
        if (m.id === '2') ctrl.abort()
      },
    })
    expect(resumeUrl).toBe(fx.origin + resume)
    // The next page load.
    const got: string[] = []
    for await (const ev of events(resumeUrl, {
      lastEventId: lastId,
      retry: { initialDelay: 10 },
    })) {
      got.push(ev.data)
    }
    expect(got).toEqual(['t3', 't4'])
    checkResumeRequests(resume, ['2', '4'])
  })
})
