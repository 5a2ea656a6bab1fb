/**
 * Issue 17's findings on the hub, each as the request a stranger would send
 * (rows 2, 4, 5, 6, 11, 14, 15, 17 of its table). Each failed before its fix.
 */
import { connect } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { hubFlags } from '../../src/cli/hub-options.js'
import { matchTopic } from '../../src/hub/auth.js'
import { createHub, type Hub, memoryStore } from '../../src/hub/index.js'
import { readEvents } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { serveHub } from '../hub/support.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const SECRET = 'a-long-enough-test-secret-of-32-bytes!'
let hub: Hub | undefined
afterEach(async () => {
  await hub?.close()
  hub = undefined
})

async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

function call(h: Hub, path: string, init: RequestInit = {}): Promise<Response> {
  return (h.handler() as (r: Request) => Promise<Response>)(
    new Request(`http://hub.test${path}`, init),
  )
}

describe('row 4: topic patterns match in linear time', () => {
  it('a pattern of many * against a topic of many / answers at once', () => {
    const topic = '/'.repeat(255)
    const t0 = performance.now()
    expect(matchTopic('*/*/*/*/*/*/*/*/x', topic)).toBe(false)
    expect(matchTopic('*/*/*/*/*/x', `${topic}x`)).toBe(true)
    // Liveness bound: the backtracking regex took 86.7 s on the first of these.
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('still matches as before: literal, prefix, suffix, middle, several stars', () => {
    const cases: Array<[string, string, boolean]> = [
      ['news', 'news', true],
      ['news', 'news2', false],
      ['orders/*', 'orders/42', true],
      ['orders/*', 'orders/', true],
      ['orders/*', 'order/42', false],
      ['*/status', 'devices/1/status', true],
      ['devices/*/status', 'devices/a/b/status', true],
      ['devices/*/status', 'devices/status', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'aXbYbZc', true],
      ['a*b*c', 'acb', false],
      ['*', '', true],
      ['a.b', 'aXb', false],
      ['**', 'x', true],
    ]
    for (const [selector, topic, want] of cases)
      expect(matchTopic(selector, topic), `${selector} ~ ${topic}`).toBe(want)
  })

  it('a subscription with more topics than the limit is refused before any is matched', async () => {
    hub = createHub({
      auth: { secret: SECRET, anonymous: true, privateTopics: ['*/*/*/*/*/*/*/x'] },
    })
    const topics = Array.from({ length: 65 }, (_, i) => `topic=${'/'.repeat(200)}${i}`).join('&')
    const t0 = performance.now()
    const res = await call(hub, `/events?${topics}`)
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('BAD_REQUEST')
    expect(performance.now() - t0).toBeLessThan(1000)
  })
})

describe('rows 5 and 6: cookies and CORS', () => {
  const publishWithCookie = async (h: Hub, headers: Record<string, string>) =>
    call(h, '/publish', {
      method: 'POST',
      headers: {
        cookie: `sluice_token=${await token({ sluice: { publish: ['*'] } })}`,
        ...headers,
      },
      body: JSON.stringify({ topic: 'news', data: 'x' }),
    })

  it('row 5: a cross-site "simple" publish with the cookie is refused without --cors-origin', async () => {
    hub = createHub({ auth: { secret: SECRET } })
    const res = await publishWithCookie(hub, {
      origin: 'https://evil.example',
      'content-type': 'text/plain',
    })
    expect(res.status).toBe(403)
    expect((await res.json()).error).toBe('CORS_REFUSED')
  })

  it('row 5: a cookie never authorizes a non-JSON publish, even same-site', async () => {
    hub = createHub({ auth: { secret: SECRET } })
    const res = await publishWithCookie(hub, { 'content-type': 'text/plain' })
    expect(res.status).toBe(415)
    // The same body as JSON, no Origin (curl, a server): accepted.
    const ok = await publishWithCookie(hub, { 'content-type': 'application/json' })
    expect(ok.status).toBe(200)
    // A same-origin page (Origin equals the host): accepted.
    const page = await publishWithCookie(hub, {
      'content-type': 'application/json',
      origin: 'http://hub.test',
    })
    expect(page.status).toBe(200)
  })

  it('row 5: a bearer token (not a cookie) may publish cross-origin from an allowed origin', async () => {
    hub = createHub({ auth: { secret: SECRET }, cors: { origins: ['https://app.example'] } })
    const res = await call(hub, '/publish', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token({ sluice: { publish: ['*'] } })}`,
        origin: 'https://app.example',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ topic: 'news', data: 'x' }),
    })
    expect(res.status).toBe(200)
  })

  it('row 6: origins * never comes with credentials, and is not reflected', async () => {
    hub = createHub({ cors: { origins: '*' } })
    for (const origin of ['https://evil.example', 'null']) {
      const res = await call(hub, '/events?topic=a', { method: 'OPTIONS', headers: { origin } })
      expect(res.status).toBe(204)
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('access-control-allow-credentials')).toBeNull()
    }
  })

  it('row 6: a cookie is not read for a cross-origin request when CORS is *', async () => {
    hub = createHub({ auth: { secret: SECRET }, cors: { origins: '*' } })
    const res = await publishWithCookie(hub, {
      origin: 'https://evil.example',
      'content-type': 'application/json',
    })
    // The cookie is ignored: no token at all.
    expect(res.status).toBe(401)
  })
})

describe('row 11: malformed input is a 4xx, not a 500', () => {
  it('a malformed cookie token is 401', async () => {
    hub = createHub({ auth: { secret: SECRET } })
    const res = await call(hub, '/events?topic=a', { headers: { cookie: 'sluice_token=%E0%A4%A' } })
    expect(res.status).toBe(401)
    expect((await res.json()).error).toBe('UNAUTHORIZED')
  })

  it('a 5,000-deep nested JSON data is 400', async () => {
    hub = createHub()
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`
    const res = await call(hub, '/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"topic":"a","data":${deep}}`,
    })
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('BAD_REQUEST')
  })
})

describe("row 15: the hub's own event names are reserved", () => {
  it('publishing event: sluice-reset (or any sluice-*) is refused, over HTTP and in the library', async () => {
    hub = createHub()
    const res = await call(hub, '/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'a', data: 'x', event: 'sluice-reset' }),
    })
    expect(res.status).toBe(400)
    await expect(hub.publish('a', 'x', { event: 'sluice-anything' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    await expect(hub.publish('a', 'x', { event: 'sluicey' })).resolves.toBeTypeOf('string')
  })
})

describe('row 2: live events held during a replay are bounded in bytes', () => {
  it('a subscriber that replays from an unknown id and reads nothing is cut once held events pass its byte budget', async () => {
    const store = memoryStore({ maxLength: 2_000 })
    hub = createHub({ store, maxBufferedBytes: 64 * 1024, heartbeat: 0 })
    const served = await serveHub(hub)
    try {
      const data = 'h'.repeat(16 * 1024)
      // 16 MB of history: more than the loopback socket buffers take, so the replay stalls.
      for (let i = 0; i < 1_000; i++) await hub.publish('big', data)
      const socket = connect(served.port, '127.0.0.1')
      socket.pause()
      socket.on('error', () => {})
      const closed = new Promise<void>((r) => socket.once('close', () => r()))
      socket.write(
        'GET /events?topic=big HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: bogus\r\n\r\n',
      )
      await waitUntil(() => hub!.metrics.connections === 1, 5000, 'the non-reader subscribed')
      // 40 live events of 16 KB (640 KB): far under the 10,000-event cap, ten times the byte budget.
      for (let i = 0; i < 40; i++) await hub.publish('big', data)
      await waitUntil(
        () => hub!.metrics.slowConsumerDisconnects === 1,
        5000,
        'the non-reader cut as a slow consumer',
      )
      socket.resume()
      await closed
      socket.destroy()
    } finally {
      await served.close()
      hub = undefined
    }
  })
})

describe('row 14: the memory store keeps a bounded number of topics', () => {
  it('100,000 unique topics with maxTopics 1,000: unwatched old topics go (history and all), watched ones stay, a resume from before an eviction is told', async () => {
    const store = memoryStore({ maxTopics: 1_000 })
    try {
      const unwatch = await store.watch('t0', { onEvent() {} })
      await store.append('t0', { data: 'watched' })
      await store.append('t1', { data: 'first' })
      const heapBefore = heapAfterGc()
      for (let i = 2; i < 100_000; i++) await store.append(`t${i}`, { data: 'x' })
      const grown = heapAfterGc() - heapBefore
      let kept = 0
      for (let i = 0; i < 100_000; i++) if ((await store.info(`t${i}`)) !== null) kept++
      expect(kept).toBeLessThanOrEqual(1_001)
      expect(await store.info('t0')).not.toBeNull()
      expect(await store.info('t1')).toBeNull()
      expect(await store.info('t99999')).not.toBeNull()
      expect((await store.read(['t1'], 0)).truncated).toBe(true)
      // Every topic kept cost ~420 B: 100,000 of them grew the heap by ~41 MB.
      expect(grown).toBeLessThan(15 * 1024 * 1024)
      unwatch()
    } finally {
      await store.close()
    }
  })

  it('sluice serve takes --max-topics', () => {
    expect(hubFlags({ 'max-topics': '5000' }).maxTopics).toBe(5000)
  })
})

describe('row 17: metrics and expiring tokens', () => {
  it('with a key, GET /metrics needs a token with the metrics claim; without a key it is open', async () => {
    hub = createHub({ auth: { secret: SECRET } })
    const as = async (t?: string) =>
      (await call(hub!, '/metrics', { headers: t ? { authorization: `Bearer ${t}` } : {} })).status
    expect(await as()).toBe(401)
    expect(await as(await token({ sluice: { subscribe: ['*'], publish: ['*'] } }))).toBe(403)
    expect(await as(await token({ sluice: { metrics: true } }))).toBe(200)
    await hub.close()
    hub = createHub()
    expect(await as()).toBe(200)
  })

  it('a subscription ends when its token expires, with an error event UNAUTHORIZED', async () => {
    hub = createHub({ auth: { secret: SECRET }, heartbeat: 0 })
    const served = await serveHub(hub)
    try {
      const soon = await new SignJWT({ sluice: { subscribe: ['news'] } })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
        .sign(new TextEncoder().encode(SECRET))
      const res = await fetch(`${served.url}/events?topic=news`, {
        headers: { authorization: `Bearer ${soon}` },
      })
      expect(res.status).toBe(200)
      await hub.publish('news', 'before')
      const t0 = performance.now()
      const events = await readEvents(res)
      // It ended by itself (the token had 1-2 s left), with the reason last.
      expect(performance.now() - t0).toBeLessThan(10_000)
      expect(events.map((e) => e.data)).toContain('before')
      const last = events.at(-1)!
      expect(last.event).toBe('error')
      expect(JSON.parse(last.data).error ?? JSON.parse(last.data).code).toBe('UNAUTHORIZED')
    } finally {
      await served.close()
      hub = undefined
    }
  })
})

describe('comma-joined Last-Event-ID (issue 14)', () => {
  it('the hub resumes from the last well-formed id of a joined header, as from that id alone', async () => {
    hub = createHub()
    const ids = [
      await hub.publish('t', 'a'),
      await hub.publish('t', 'b'),
      await hub.publish('t', 'c'),
    ]
    const res = await call(hub, '/events?topic=t', {
      headers: { 'last-event-id': `${ids[0]}, ${ids[1]}` },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    expect(res.headers.get('sluice-history')).toBe('complete')
    const events = await readEvents(res, (e) => e.data === 'c')
    expect(events.filter((e) => e.data).map((e) => e.data)).toEqual(['c'])
  })
})
