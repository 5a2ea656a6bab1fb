/**
 * `sluice serve --cors-origin O` covers the chat routes, not only the hub's:
 * a page on another origin, in a real Chromium, POSTs /chat with a JSON body
 * (a preflighted request), reads the streamed answer and its
 * Sluice-Resume-Url, resumes the run with GET and stops it with DELETE
 * (preflighted too). An origin that is not allowed is refused.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub } from '../../src/hub/hub.js'
import { type Browser, launchBrowser } from '../helpers/browser.js'
import { describeExternal } from '../helpers/external.js'
import { listenLoopback } from '../helpers/http.js'
import { type RunningApp, serveApp } from '../helpers/serve.js'

describeExternal(['chromium'], 'CORS on the chat routes of sluice serve, in Chromium', () => {
  let running: RunningApp
  let api: string
  let page: Server
  let pageOrigin: string
  let browser: Browser

  beforeAll(async () => {
    // The front end: a blank page on its own origin.
    page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>')
    })
    pageOrigin = (await listenLoopback(page)).url
    running = await serveApp({ hub: createHub({ cors: { origins: [pageOrigin] } }) }, 200)
    api = running.url
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await running?.close()
    await new Promise((r) => page.close(r))
  })

  it('a page on another origin streams an answer, resumes it and stops it', async () => {
    const tab = await browser.context.newPage()
    await tab.goto(`${pageOrigin}/`)
    const result = await tab.evaluate(async (api) => {
      // Content-Type: application/json makes this a preflighted request.
      const res = await fetch(`${api}/chat?delay=20&tokens=500`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'from another origin' }),
      })
      const resumeUrl = res.headers.get('sluice-resume-url')
      const reader = res.body!.getReader()
      const first = new TextDecoder().decode((await reader.read()).value)
      await reader.cancel()
      const resumed = await fetch(`${api}${resumeUrl}`, { headers: { 'last-event-id': '1' } })
      const resumedStatus = resumed.status
      await resumed.body!.cancel()
      const stop = await fetch(`${api}${resumeUrl}`, { method: 'DELETE' })
      return { status: res.status, resumeUrl, first, resumedStatus, stop: await stop.json() }
    }, api)
    expect(result.status).toBe(200)
    expect(result.resumeUrl).toMatch(/^\/chat\/[a-z0-9]+$/)
    expect(result.first).toContain('event:run')
    expect(result.resumedStatus).toBe(200)
    // Headless Chromium sometimes sends this DELETE twice on the wire (one fetch() in the
    // page); the second answer then says the run was already stopped: `stopped: false`.
    expect(result.stop).toMatchObject({ reason: 'stopped' })
    expect(running.app.chat.aborted).toBe(1)
  })

  it('another origin gets no CORS headers, and its preflight is refused', async () => {
    const preflight = await fetch(`${api}/chat`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(403)
    expect((await preflight.json()).error).toBe('CORS_REFUSED')
    const res = await fetch(`${api}/chat?delay=0&tokens=2`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{"message":"x"}',
    })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    await res.text()
    const ok = await fetch(`${api}/chat/abc`, {
      method: 'OPTIONS',
      headers: { origin: pageOrigin, 'access-control-request-method': 'DELETE' },
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-methods')).toContain('DELETE')
  })
})
