/**
 * The demo page at `/` of the real `sluice serve`, built with Vite from
 * src/app, in a real headless Chromium: the chat answer streams in token by
 * token, Stop ends it on the server too, and screenshots (light and dark)
 * go to docs/img/ for the README.
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tokenize } from '../../src/cli/chat.js'
import { createProxyServer } from '../../src/cli/proxy.js'
import { describeExternal, freePort } from '../helpers/external.js'
import { buildApp, type Served, type ServedPage, servePage } from './app-build.js'
import { type Browser, until } from './support.js'

const IMG_DIR = fileURLToPath(new URL('../../docs/img/', import.meta.url))

/** Record every change of the answer's text with its time, in the page. */
async function recordAnswer(page: Page): Promise<void> {
  await page.evaluate(() => {
    const el = document.getElementById('answer')!
    const w = window as any
    w.changes = []
    new MutationObserver(() => {
      w.changes.push({ at: Date.now(), len: el.textContent!.length })
    }).observe(el, { childList: true, characterData: true, subtree: true })
  })
}

const answerStatus = (page: Page) => page.locator('#answer').getAttribute('data-status')

describeExternal(['chromium'], 'the demo page of sluice serve, in Chromium', () => {
  let site: ServedPage
  let served: Served
  let browser: Browser

  beforeAll(async () => {
    site = await servePage('sluice-app-', buildApp)
    ;({ served, browser } = site)
  })
  afterAll(() => site?.close())

  it('serves the built page and its assets, with no external URLs', async () => {
    const res = await fetch(served.url + '/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    const html = await res.text()
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1])
    expect(assets.length).toBeGreaterThanOrEqual(2)
    for (const a of assets) {
      const r = await fetch(`${served.url}/${a}`)
      expect(r.status).toBe(200)
      const body = await r.text()
      // Nothing is loaded from the network: no absolute http(s) URLs to fetch.
      expect(body).not.toMatch(/(?:src|href|url\()\s*=?\s*["']?https?:\/\//)
    }
    expect(html).not.toMatch(/(?:src|href)="https?:/)
    const missing = await fetch(served.url + '/assets/nope.js')
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toBe('NOT_FOUND')
  })

  it('streams the chat answer in token by token', async () => {
    const page = await browser.context.newPage()
    const external: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(served.url) && !r.url().startsWith('data:')) external.push(r.url())
    })
    await page.goto(served.url + '/?delay=60&tokens=40')
    await recordAnswer(page)
    await page.fill('#message', 'Does it stream?')
    await page.click('#send')
    await until(async () => (await answerStatus(page)) === 'done', 15_000, 'the answer to finish')
    const text = await page.locator('#answer').textContent()
    expect(text).toBe(tokenize({ message: 'Does it stream?', mode: 'words', tokens: 40 }).join(''))
    const changes: Array<{ at: number; len: number }> = await page.evaluate(
      () => (window as any).changes,
    )
    const grew = changes.filter((c) => c.len > 0)
    // Many separate updates, and the first token was on screen long before the last.
    expect(new Set(grew.map((c) => c.len)).size).toBeGreaterThanOrEqual(20)
    expect(grew[grew.length - 1].at - grew[0].at).toBeGreaterThan(1500)
    await expect(page.locator('#chat-status').textContent()).resolves.toBe('done')
    // The panel shows the last event id the chat saw (what a resume sends as Last-Event-ID).
    await expect(page.locator('#row-chat [data-k="id"]').textContent()).resolves.not.toBe('–')
    expect(external).toEqual([])
    await page.close()
  })

  it('is usable by keyboard and every control has an accessible name', async () => {
    const page = await browser.context.newPage()
    await page.goto(served.url + '/?delay=10&tokens=5')
    for (const name of [
      'Message',
      'Topic to subscribe to',
      'Topic to publish to',
      'Message to publish',
    ])
      await expect(page.getByLabel(name, { exact: true }).count()).resolves.toBe(1)
    for (const name of ['Send', 'Stop', 'Subscribe', 'Publish', 'Unsubscribe from demo'])
      await expect(page.getByRole('button', { name, exact: true }).count()).resolves.toBe(1)
    await expect(page.getByRole('status').count()).resolves.toBe(2)
    // Keyboard only: Tab to the message field, type, Enter sends.
    await page.keyboard.press('Tab')
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('message')
    await page.keyboard.press('Control+A')
    await page.keyboard.type('keys only')
    await page.keyboard.press('Enter')
    await until(async () => (await answerStatus(page)) === 'done', 10_000, 'the answer')
    expect(await page.locator('#answer').textContent()).toBe(
      tokenize({ message: 'keys only', mode: 'words', tokens: 5 }).join(''),
    )
    await page.close()
  })

  it('stops the answer with Stop, and the server stops generating', async () => {
    const page = await browser.context.newPage()
    await page.goto(served.url + '/?delay=50&tokens=400')
    const aborted = served.app.chat.aborted
    await page.click('#send')
    await until(
      async () => ((await page.locator('#answer').textContent()) ?? '').length > 20,
      10_000,
      'the first tokens',
    )
    await page.click('#stop')
    await until(async () => (await answerStatus(page)) === 'stopped', 5000, 'the stopped state')
    await until(() => served.app.chat.aborted > aborted, 5000, 'the server to stop the model')
    const atStop = (await page.locator('#answer').textContent()) ?? ''
    await page.waitForTimeout(300) // a bounded quiet wait: no token may follow
    expect(await page.locator('#answer').textContent()).toBe(atStop)
    expect(atStop.length).toBeLessThan(
      tokenize({ message: 'Why is this streaming?', mode: 'words', tokens: 400 }).join('').length,
    )
    await expect(page.locator('#stop').isDisabled()).resolves.toBe(true)
    await page.close()
  })
  it('resumes an answer after a reload mid-answer, to the same final text, and keeps it after', async () => {
    const page = await browser.context.newPage()
    // Record every state the chat badge shows, from the first paint of every load.
    await page.addInitScript(() => {
      const w = window as any
      w.badges = []
      new MutationObserver(() => {
        const t = document.getElementById('chat-status')?.textContent
        if (t && w.badges[w.badges.length - 1] !== t) w.badges.push(t)
      }).observe(document, { childList: true, characterData: true, subtree: true })
    })
    await page.goto(served.url + '/?delay=50&tokens=60')
    await page.fill('#message', 'Reload me')
    await page.click('#send')
    await until(
      async () => ((await page.locator('#answer').textContent()) ?? '').length > 40,
      10_000,
      'part of the answer',
    )
    const before = (await page.locator('#answer').textContent()) ?? ''
    await page.reload()
    // The resumed answer sits under its own question, not the page's default one.
    expect(await page.locator('#message').inputValue()).toBe('Reload me')
    await until(async () => (await answerStatus(page)) === 'done', 15_000, 'the resumed answer')
    const full = tokenize({ message: 'Reload me', mode: 'words', tokens: 60 }).join('')
    expect(await page.locator('#answer').textContent()).toBe(full)
    expect(full.startsWith(before)).toBe(true)
    expect(before.length).toBeLessThan(full.length)
    // The reloaded page showed that it was reconnecting before it streamed again.
    const badges: string[] = await page.evaluate(() => (window as any).badges)
    expect(badges.indexOf('reconnecting…')).toBeGreaterThanOrEqual(0)
    expect(badges.indexOf('reconnecting…')).toBeLessThan(badges.lastIndexOf('done'))
    // The answer is finished: a further reload resumes nothing (no request to
    // /chat) and keeps the finished answer and its question on the page.
    const chatRequests: string[] = []
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/chat')) chatRequests.push(r.url())
    })
    await page.reload()
    expect(await answerStatus(page)).toBe('done')
    expect(await page.locator('#answer').textContent()).toBe(full)
    expect(await page.locator('#message').inputValue()).toBe('Reload me')
    expect(chatRequests).toEqual([])
    await page.close()
  })

  it('shows a dropped connection as reconnecting and resumes the answer when it is back', async () => {
    // The page reaches the server through sluice proxy; the proxy dies mid-answer
    // and comes back on the same port.
    const port = await freePort()
    const startProxy = async () => {
      const p = createProxyServer({ target: served.url })
      await new Promise<void>((r) => p.listen(port, '127.0.0.1', r))
      return p
    }
    let proxy = await startProxy()
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${port}/?delay=50&tokens=80`)
    await page.fill('#message', 'Hold on')
    await page.click('#send')
    await until(
      async () => ((await page.locator('#answer').textContent()) ?? '').length > 30,
      10_000,
      'part of the answer',
    )
    proxy.closeAllConnections()
    await new Promise((r) => proxy.close(r))
    await until(
      async () => (await page.locator('#chat-status').textContent()) === 'reconnecting…',
      5000,
      'the reconnecting state',
    )
    expect(await page.locator('#chat-note').textContent()).toMatch(
      /resuming the answer after event/,
    )
    proxy = await startProxy()
    try {
      await until(async () => (await answerStatus(page)) === 'done', 20_000, 'the resumed answer')
      expect(await page.locator('#answer').textContent()).toBe(
        tokenize({ message: 'Hold on', mode: 'words', tokens: 80 }).join(''),
      )
      expect(
        Number(await page.locator('#row-chat [data-k="retries"]').textContent()),
      ).toBeGreaterThan(0)
    } finally {
      await page.close()
      proxy.closeAllConnections()
      await new Promise((r) => proxy.close(r))
    }
  })

  it("shows each other's publishes in two tabs", async () => {
    const a = await browser.context.newPage()
    const b = await browser.context.newPage()
    await a.goto(served.url + '/?topic=room')
    await b.goto(served.url + '/?topic=room')
    for (const p of [a, b])
      await until(
        async () => (await p.locator('#feed-status').textContent()) === 'open',
        5000,
        'open',
      )
    await a.fill('#pub-data', 'hello from A')
    await a.click('#publish')
    await until(
      async () => ((await b.locator('#feed').textContent()) ?? '').includes('hello from A'),
      5000,
      "A's message in B",
    )
    await b.fill('#pub-data', 'hi from B')
    await b.click('#publish')
    await until(
      async () => ((await a.locator('#feed').textContent()) ?? '').includes('hi from B'),
      5000,
      "B's message in A",
    )
    // Both see both, in the same order, with the hub's ids.
    const items = async (p: Page) => p.locator('#feed li .data').allTextContents()
    await until(async () => (await items(a)).length === 2, 5000, 'two items in A')
    expect(await items(a)).toEqual(['hi from B', 'hello from A'])
    expect(await items(b)).toEqual(await items(a))
    expect(await a.locator('#row-feed [data-k="id"]').textContent()).toBe(
      await b.locator('#row-feed [data-k="id"]').textContent(),
    )
    await a.close()
    await b.close()
  })

  it('serves /events to the native EventSource, with Last-Event-ID replay', async () => {
    const page = await browser.context.newPage()
    await page.goto(served.url + '/')
    await page.evaluate(() => {
      const w = window as any
      w.got = []
      w.es = new EventSource('/events?topic=native')
      w.es.onmessage = (e: MessageEvent) => w.got.push({ data: e.data, id: e.lastEventId })
      return new Promise((r) => w.es.addEventListener('open', r, { once: true }))
    })
    const publish = (data: string) =>
      fetch(served.url + '/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'native', data }),
      }).then((r) => r.json() as Promise<{ id: string }>)
    const one = await publish('one')
    await publish('two')
    await until(() => page.evaluate(() => (window as any).got.length === 2), 5000, 'two events')
    const got = await page.evaluate(() => (window as any).got)
    expect(got.map((e: { data: string }) => e.data)).toEqual(['one', 'two'])
    expect(got[0].id).toBe(one.id)
    // A new EventSource resuming from the first id gets the rest, from history.
    const replay = await page.evaluate(
      (id) =>
        new Promise<string[]>((resolve) => {
          const seen: string[] = []
          const es = new EventSource('/events?topic=native&lastEventId=' + encodeURIComponent(id))
          es.onmessage = (e) => {
            seen.push(e.data)
            es.close()
            resolve(seen)
          }
        }),
      one.id,
    )
    expect(replay).toEqual(['two'])
    await page.close()
  })

  it('saves screenshots, light and dark, into docs/img/', async () => {
    const page = await browser.context.newPage()
    await page.goto(served.url + '/?delay=20&topic=demo')
    await until(
      async () => (await page.locator('#feed-status').textContent()) === 'open',
      5000,
      'open',
    )
    for (const m of ['Deploy finished on eu-west', 'New comment on #42']) {
      await page.fill('#pub-data', m)
      await page.click('#publish')
      await until(
        async () => ((await page.locator('#feed').textContent()) ?? '').includes(m),
        5000,
        m,
      )
    }
    await page.fill('#message', 'How does sluice stream?')
    await page.click('#send')
    await until(async () => (await answerStatus(page)) === 'done', 15_000, 'the answer')
    await mkdir(IMG_DIR, { recursive: true })
    await page.screenshot({ path: IMG_DIR + 'demo-light.png' })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: IMG_DIR + 'demo-dark.png' })
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    await page.emulateMedia({ colorScheme: 'light' })
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    expect(dark).not.toBe(light)
    await page.close()
  })
})
