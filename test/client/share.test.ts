/**
 * The client's `share` option in headless Chromium, tabs of one origin:
 * EventSource followers see one open and every event, and a leader's close
 * hands over with Last-Event-ID and no error; a final error reaches every
 * tab from one request; events() follows a fetchEventSource leader; a POST
 * with `share: true` is not shared.
 */
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { fetchEventSource } from '../../src/client/index.js'
import { type Browser, bundle, openPage } from '../fixtures/browser.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'
import { describeExternal } from '../helpers/external.js'
import { waitUntil } from '../helpers/wait.js'

const ENTRY = fileURLToPath(new URL('./share-browser-entry.ts', import.meta.url))

/** Events `id: n` (`data: tick n`) every 40 ms from after Last-Event-ID, until the client goes. */
function ticks(req: { headers: Record<string, unknown> }, res: import('node:http').ServerResponse) {
  sseHead(res)
  let n = Number(req.headers['last-event-id'] ?? 0)
  const timer = setInterval(() => {
    n++
    res.write(`id: ${n}\ndata: tick ${n}\n\n`)
  }, 40)
  res.once('close', () => clearInterval(timer))
}

it('outside browsers share is a no-op: the stream opens as without it', async () => {
  const fx = await startFixture()
  try {
    fx.route('/share/once', (_req, res) => {
      sseHead(res)
      res.end('id: 7\ndata: here\n\n')
    })
    const got: string[] = []
    await fetchEventSource(fx.origin + '/share/once', {
      share: true,
      reconnectOnEnd: false,
      onmessage: (e) => got.push(`${e.id} ${e.data}`),
    })
    expect(got).toEqual(['7 here'])
  } finally {
    await fx.close()
  }
})

describeExternal(['chromium'], 'share: one connection for the tabs of an origin', () => {
  let fx: Fixture
  let browser: Browser
  const tabs: Page[] = []

  beforeAll(async () => {
    fx = await startFixture()
    fx.route('/share/ticks', (req, res) => ticks(req, res))
    fx.route('/share/iter', (req, res) => ticks(req, res))
    fx.route('/share/gone', (_req, res) => {
      setTimeout(() => res.writeHead(404, { 'content-type': 'text/plain' }).end('gone'), 600)
    })
    fx.route('/share/post', (_req, res) => {
      sseHead(res)
      setTimeout(() => res.end('id: 1\ndata: posted\n\n'), 300)
    })
    browser = await openPage(fx, await bundle(ENTRY))
    tabs.push(browser.page)
    for (let i = 0; i < 2; i++) {
      const page = await browser.context.newPage()
      await page.goto(fx.origin + '/page.html')
      tabs.push(page)
    }
  })
  afterAll(async () => {
    await browser?.close()
    await fx?.close()
  })

  const logOf = (page: Page): Promise<string[]> => page.evaluate('window.log')

  it('EventSource: followers open once and see every event; the leader closing hands over with Last-Event-ID, no error', async () => {
    for (const page of tabs) {
      await page.evaluate(`
        window.log = []
        window.es = new sluice.EventSource('/share/ticks', { share: true })
        es.onopen = () => log.push('open ' + es.readyState)
        es.onerror = () => log.push('error ' + es.readyState)
        es.onmessage = (e) => log.push(e.lastEventId + ' ' + e.data)
      `)
      await waitUntil(async () => (await logOf(page)).length >= 4, 5000)
    }
    expect(fx.hits('/share/ticks')).toHaveLength(1)
    const [leader, ...followers] = tabs
    await leader.evaluate('es.close()')
    const counts = await Promise.all(followers.map(async (p) => (await logOf(p)).length))
    for (const [k, page] of followers.entries())
      await waitUntil(async () => (await logOf(page)).length >= counts[k] + 10, 5000)
    const hits = fx.hits('/share/ticks')
    expect(hits).toHaveLength(2)
    for (const page of followers) {
      const log = await logOf(page)
      expect(log[0]).toBe('open 1')
      expect(log.filter((l) => l.startsWith('open') || l.startsWith('error'))).toEqual(['open 1'])
      const ids = log.slice(1).map((l) => Number(l.split(' ')[0]))
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1] + 1)
      expect(log.slice(1).every((l) => l === `${l.split(' ')[0]} tick ${l.split(' ')[0]}`)).toBe(
        true,
      )
      // The new leader asked from the last id the tabs had seen: nothing missed, nothing twice.
      expect(ids).toContain(Number(hits[1]!.headers['last-event-id']))
      expect(ids).toContain(Number(hits[1]!.headers['last-event-id']) + 1)
    }
    for (const page of followers) await page.evaluate('es.close()')
    await waitUntil(() => fx.open.size === 0, 5000)
  })

  it('a final error reaches every tab, from one request', async () => {
    const results = tabs.map((page) =>
      page.evaluate(`
        window.log = []
        sluice.fetchEventSource('/share/gone', {
          share: true,
          onerror: (e) => { log.push('onerror ' + e.code) },
        }).then(() => 'resolved', (e) => e.code + ' ' + e.details.status)
      `),
    )
    expect(await Promise.all(results)).toEqual(Array(tabs.length).fill('BAD_STATUS 404'))
    expect(fx.hits('/share/gone')).toHaveLength(1)
    for (const page of tabs) expect(await logOf(page)).toEqual(['onerror BAD_STATUS'])
  })

  it('events() in a follower iterates what a fetchEventSource leader reads', async () => {
    await tabs[0]!.evaluate(`
      window.ctrl = new AbortController()
      sluice.fetchEventSource('/share/iter', { share: true, signal: ctrl.signal })
      null // not the promise: it resolves only when aborted
    `)
    await waitUntil(() => fx.hits('/share/iter').length === 1, 5000)
    const got = await tabs[1]!.evaluate(`(async () => {
      const out = []
      for await (const ev of sluice.events('/share/iter', { share: true })) {
        out.push(ev.id)
        if (out.length === 5) break
      }
      return out
    })()`)
    expect((got as string[]).map(Number)).toHaveLength(5)
    expect(fx.hits('/share/iter')).toHaveLength(1)
    await tabs[0]!.evaluate('ctrl.abort()')
  })

  it('a POST is not shared with share: true', async () => {
    const results = tabs.slice(0, 2).map((page) =>
      page.evaluate(`
        sluice.fetchEventSource('/share/post', { method: 'POST', body: '{}', share: true,
          onmessage: (e) => { window.posted = e.data } }).then(() => window.posted)
      `),
    )
    expect(await Promise.all(results)).toEqual(['posted', 'posted'])
    expect(fx.hits('/share/post')).toHaveLength(2)
  })
})
