/**
 * The browser's native EventSource (headless Chromium) against the hub:
 * receives published events, and when the test cuts its connection it
 * reconnects by itself with Last-Event-ID and gets what it missed, once.
 */
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub, type Hub } from '../../src/hub/index.js'
import { type Browser, launchBrowser } from '../helpers/browser.js'
import { listenLoopback } from '../helpers/http.js'
import { describeExternal } from '../helpers/external.js'

const PAGE = `<!doctype html><meta charset="utf-8"><title>hub</title>
<script>
  window.got = []; window.opens = 0; window.errors = 0
  const es = new EventSource('/events?topic=room')
  es.onopen = () => window.opens++
  es.onerror = () => window.errors++
  es.onmessage = (e) => window.got.push({ id: e.lastEventId, data: e.data })
</script>`

describeExternal(['chromium'], 'native EventSource in Chromium', () => {
  let hub: Hub
  let server: Server
  let base: string
  let browser: Browser
  const eventSockets: Socket[] = []
  const lastEventIds: (string | undefined)[] = []

  beforeAll(async () => {
    hub = createHub({ retry: 200, heartbeat: 0 })
    const handle = hub.handler()
    server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
        return
      }
      if (req.url?.startsWith('/events')) {
        eventSockets.push(req.socket)
        lastEventIds.push(req.headers['last-event-id'] as string | undefined)
      }
      handle(req, res)
    })
    base = (await listenLoopback(server)).url
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await hub?.close()
    server?.closeAllConnections()
    server?.close()
  })

  it('receives published events and resumes after its connection is cut', async () => {
    const page = await browser.context.newPage()
    await page.goto(base + '/')
    await page.waitForFunction(() => (window as any).opens === 1)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await hub.publish('room', `m${i}`))
    await page.waitForFunction(() => (window as any).got.length === 5)

    // Cut the connection under the browser, and publish while it is away.
    expect(eventSockets.length).toBe(1)
    eventSockets[0].destroy()
    for (let i = 5; i < 10; i++) ids.push(await hub.publish('room', `m${i}`))

    await page.waitForFunction(() => (window as any).got.length >= 10, null, { timeout: 10_000 })
    await new Promise((r) => setTimeout(r, 200)) // a bounded quiet wait: no event may come twice
    const got = (await page.evaluate(() => (window as any).got)) as { id: string; data: string }[]
    expect(got.map((e) => e.data)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
    expect(got.map((e) => e.id)).toEqual(ids)
    // The browser reconnected on its own, sending the id of the last event it had.
    expect(await page.evaluate(() => (window as any).opens)).toBe(2)
    expect(lastEventIds).toEqual([undefined, ids[4]])
    await page.close()
  })

  it('cross-origin, with a JWT in ?access_token= and CORS: subscribes and publishes from the page', async () => {
    const secret = 'browser-secret-browser-secret-0000'
    const secure = createHub({
      heartbeat: 0,
      auth: { secret },
      cors: { origins: [base] },
    })
    const other = createServer(secure.handler())
    const hubUrl = (await listenLoopback(other)).url
    const token = await new SignJWT({ sluice: { subscribe: ['vault'], publish: ['vault'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret))
    const page = await browser.context.newPage()
    await page.goto(base + '/')
    await page.evaluate(
      ({ hubUrl, token }) => {
        const w = window as any
        w.secure = []
        const es = new EventSource(`${hubUrl}/events?topic=vault&access_token=${token}`, {
          withCredentials: true,
        })
        es.onmessage = (e) => w.secure.push(e.data)
        w.secureOpen = new Promise((r) => (es.onopen = r))
      },
      { hubUrl, token },
    )
    await page.evaluate(() => (window as any).secureOpen)
    // A cross-origin POST with Authorization: the browser preflights it.
    const status = await page.evaluate(
      async ({ hubUrl, token }) => {
        const res = await fetch(`${hubUrl}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ topic: 'vault', data: 'from the page' }),
        })
        return res.status
      },
      { hubUrl, token },
    )
    expect(status).toBe(200)
    await page.waitForFunction(() => (window as any).secure.length === 1)
    expect(await page.evaluate(() => (window as any).secure)).toEqual(['from the page'])
    // Without the token the same EventSource is refused (401), and the page sees an error.
    const refused = await page.evaluate(
      (hubUrl) =>
        new Promise<number>((resolve) => {
          const es = new EventSource(`${hubUrl}/events?topic=vault`, { withCredentials: true })
          es.onerror = () => {
            resolve(es.readyState)
            es.close()
          }
        }),
      hubUrl,
    )
    expect(refused).toBe(2) // CLOSED: a 401 is not retried
    expect(secure.metrics.refused.unauthorized).toBe(1)
    await page.close()
    await secure.close()
    other.closeAllConnections()
    other.close()
  })
})
