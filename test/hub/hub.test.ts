/**
 * The hub on one node (memory store), over node:http and Web Request/Response:
 * publish, subscribe to several topics, resume with one Last-Event-ID, loss
 * notices, and 4xx JSON errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub, memoryStore, type Hub } from '../../src/hub/index.js'
import { openSse } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { publish, type ServedHub, serveHub } from './support.js'

let served: ServedHub
let hub: Hub
let base: string

beforeAll(async () => {
  served = await serveHub(createHub({ store: memoryStore({ maxLength: 50 }), heartbeat: 0 }))
  ;({ hub, url: base } = served)
})

afterAll(() => served.close())

describe('hub over node:http', () => {
  it('delivers published events to subscribers of their topics', async () => {
    const sub = await openSse(`${base}/events?topic=news&topic=sport`)
    expect(sub.response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const a = await publish(base, 'news', 'hello')
    await publish(base, 'weather', 'not for us')
    const c = await publish(base, 'sport', { score: 3 }, { event: 'goal' })
    expect(a.status).toBe(200)
    await sub.waitFor((ev) => ev.length >= 2)
    expect(sub.events.map((e) => [e.id, e.event, e.data])).toEqual([
      [a.body.id, '', 'hello'],
      [c.body.id, 'goal', '{"score":3}'],
    ])
    sub.close()
  })

  it('resumes several topics from one Last-Event-ID, nothing lost or doubled', async () => {
    const ids: string[] = []
    for (let i = 0; i < 10; i++)
      ids.push((await publish(base, i % 2 ? 'r1' : 'r2', String(i))).body.id)
    const sub = await openSse(`${base}/events?topic=r1&topic=r2`, { 'last-event-id': ids[3] })
    expect(sub.response.headers.get('sluice-history')).toBe('complete')
    for (let i = 10; i < 15; i++) await publish(base, i % 2 ? 'r1' : 'r2', String(i))
    await sub.waitFor((ev) => ev.length >= 11)
    expect(sub.events.map((e) => e.data)).toEqual(
      Array.from({ length: 11 }, (_, i) => String(i + 4)),
    )
    sub.close()
    // ?lastEventId= works too (native EventSource reconnecting by URL).
    const byUrl = await openSse(`${base}/events?topic=r1&lastEventId=${encodeURIComponent(ids[8])}`)
    await byUrl.waitFor((ev) => ev.length >= 3)
    expect(byUrl.events.map((e) => e.data)).toEqual(['9', '11', '13'])
    byUrl.close()
  })

  it('says so when the id is older than the history kept (truncated)', async () => {
    const first = await publish(base, 'long', 'first')
    for (let i = 0; i < 60; i++) await publish(base, 'long', String(i))
    const sub = await openSse(`${base}/events?topic=long`, { 'last-event-id': first.body.id })
    expect(sub.response.headers.get('sluice-history')).toBe('truncated')
    await sub.waitFor((ev) => ev.length >= 51)
    expect(sub.events[0].event).toBe('sluice-reset')
    expect(JSON.parse(sub.events[0].data).reason).toBe('truncated')
    expect(sub.events.slice(1).map((e) => e.data)).toEqual(
      Array.from({ length: 50 }, (_, i) => String(i + 10)),
    )
    sub.close()
  })

  it('says so when the id comes from another epoch (a restarted hub)', async () => {
    await publish(base, 'epoch', 'after restart')
    const sub = await openSse(`${base}/events?topic=epoch`, { 'last-event-id': 'oldepoch01-42' })
    expect(sub.response.headers.get('sluice-history')).toBe('reset')
    await sub.waitFor((ev) => ev.length >= 2)
    expect(sub.events[0].event).toBe('sluice-reset')
    expect(JSON.parse(sub.events[0].data)).toMatchObject({
      reason: 'reset',
      lastEventId: 'oldepoch01-42',
    })
    expect(sub.events[1].data).toBe('after restart')
    sub.close()
  })

  it('tells a fresh subscriber its position, so a cut before any event loses nothing', async () => {
    const ac = new AbortController()
    const res = await fetch(`${base}/events?topic=fresh`, { signal: ac.signal })
    const reader = res.body!.getReader()
    let text = ''
    // The position is a control event (issue 14): event:sluice-position, its id, data.
    const positionEvent = /event:sluice-position\nid:([^\n]+)\ndata:[^\n]+\n\n/
    while (!positionEvent.test(text)) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the stream ended before its position: ${text}`)
      text += new TextDecoder().decode(value)
    }
    const position = positionEvent.exec(text)![1]
    expect(position).toBe(await hub.position())
    ac.abort() // cut before the first event
    const missed = await publish(base, 'fresh', 'while away')
    const back = await openSse(`${base}/events?topic=fresh`, { 'last-event-id': position })
    expect(back.response.headers.get('sluice-history')).toBe('complete')
    await back.waitFor((ev) => ev.length === 1)
    expect(back.events[0]).toMatchObject({ id: missed.body.id, data: 'while away' })
    back.close()
  })

  it('treats an id ahead of the head as unknown (reset), never skipping events for it', async () => {
    const head = await hub.position()
    const [epoch, seq] = [
      head.slice(0, head.lastIndexOf('-')),
      Number(head.slice(head.lastIndexOf('-') + 1)),
    ]
    const sub = await openSse(`${base}/events?topic=future`, {
      'last-event-id': `${epoch}-${seq + 1000}`,
    })
    expect(sub.response.headers.get('sluice-history')).toBe('reset')
    await publish(base, 'future', 'next')
    await sub.waitFor((ev) => ev.some((e) => e.data === 'next'))
    expect(sub.events[0].event).toBe('sluice-reset')
    sub.close()
  })

  it('refuses bad requests with a 4xx JSON error', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(base + '/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      })
    const cases: [Promise<Response>, number, string][] = [
      [post('{not json'), 400, 'INVALID_JSON'],
      [post('{"data":"x"}'), 400, 'BAD_REQUEST'],
      [post('{"topic":"t"}'), 400, 'BAD_REQUEST'],
      [post('{"topic":"","data":"x"}'), 400, 'BAD_REQUEST'],
      [post(JSON.stringify({ topic: 't', data: 'x'.repeat(70_000) })), 413, 'BODY_TOO_LARGE'],
      [fetch(base + '/events'), 400, 'BAD_REQUEST'],
      [fetch(base + '/publish'), 405, 'METHOD_NOT_ALLOWED'],
    ]
    for (const [p, status, code] of cases) {
      const res = await p
      expect(res.status).toBe(status)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      expect((await res.json()).error).toBe(code)
    }
  })

  it('serves Prometheus metrics', async () => {
    const res = await fetch(base + '/metrics')
    const text = await res.text()
    expect(text).toMatch(/^sluice_hub_published_total \d+$/m)
    expect(text).toMatch(/^sluice_hub_delivered_total \d+$/m)
    expect(text).toMatch(/^sluice_hub_refused_total\{reason="bad_request"\} [1-9]\d*$/m)
  })
})

describe('hub as a fetch handler (Web Request/Response)', () => {
  it('publishes and streams with Request/Response only', async () => {
    const h = createHub({ heartbeat: 0 })
    const handle = h.handler()
    const ac = new AbortController()
    const res = await handle(new Request('http://hub.local/events?topic=w', { signal: ac.signal }))
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const pub = await handle(
      new Request('http://hub.local/publish', {
        method: 'POST',
        body: JSON.stringify({ topic: 'w', data: 'web' }),
      }),
    )
    const { id } = await pub.json()
    const reader = res.body!.getReader()
    let text = ''
    while (!text.includes('data:web')) text += new TextDecoder().decode((await reader.read()).value)
    expect(text).toContain(`id:${id}\ndata:web\n\n`)
    ac.abort()
    await h.close()
  })
})

describe('hub.subscribe (in process)', () => {
  it('is an async iterable with replay, ended by a signal', async () => {
    const h = createHub()
    const first = await h.publish('x', 'a')
    await h.publish('x', 'b')
    const ac = new AbortController()
    const got: string[] = []
    const done = (async () => {
      for await (const e of h.subscribe(['x'], { lastEventId: first, signal: ac.signal })) {
        got.push(e.data)
        if (got.length === 2) ac.abort()
      }
    })()
    // 'c' is published once the replayed 'b' is in: it comes live.
    await waitUntil(() => got.length === 1, 5000, 'the replay')
    await h.publish('x', 'c')
    await done
    expect(got).toEqual(['b', 'c'])
    await h.close()
  })
})
