/**
 * Issue 19: `sluice serve --tls-cert --tls-key` speaks HTTP/2, where a
 * browser's streams to one origin are streams of one connection: ten tabs of
 * the demo page, each with its own unshared EventSource besides the page's
 * shared feed, all load and all stream. The certificate is made here with
 * openssl; Chromium is told to accept it.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal } from '../helpers/external.js'
import { launchBrowser } from '../helpers/browser.js'
import { type SluiceProcess, startSluice } from '../helpers/serve.js'
import { makeCertificate } from '../helpers/tls.js'
import { buildApp, tempDir } from './app-build.js'
import { type Browser, until } from './support.js'

const TABS = 10

/** A native EventSource on topic h2 in the page: `window.h2Seen` collects its data. */
const openStream = (page: Page) =>
  page.evaluate(() => {
    const w = window as any
    w.h2Seen = []
    w.h2Open = false
    const es = new EventSource('/events?topic=h2')
    es.onopen = () => (w.h2Open = true)
    es.onmessage = (e) => w.h2Seen.push(e.data)
  })

describeExternal(['chromium', 'openssl'], 'sluice serve over HTTP/2 (TLS), in Chromium', () => {
  let dirs: Array<{ remove: () => Promise<void> }> = []
  let serve: SluiceProcess
  let browser: Browser
  let origin: string

  beforeAll(async () => {
    const app = await tempDir('sluice-h2-app-')
    const certs = await tempDir('sluice-h2-cert-')
    dirs = [app, certs]
    await buildApp(app.dir)
    const { cert, key } = makeCertificate(certs.dir)
    process.env.SLUICE_APP_DIR = app.dir
    serve = await startSluice('serve', ['--tls-cert', cert, '--tls-key', key])
    origin = `https://localhost:${serve.port}`
    browser = await launchBrowser({ args: ['--ignore-certificate-errors'] })
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    for (const d of dirs) await d.remove()
  })

  it('says it listens on https, with HTTP/2', () => {
    expect(serve.proc.output()).toContain(
      `listening on https://127.0.0.1:${serve.port} (HTTP/2 and HTTP/1.1)`,
    )
  })

  it('ten tabs, each with an unshared stream, all load and all stream', async () => {
    const pages: Page[] = []
    for (let i = 0; i < TABS; i++) {
      const page = await browser.context.newPage()
      await page.goto(origin + '/', { timeout: 15_000 })
      const protocol = await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] as any).nextHopProtocol,
      )
      expect(protocol).toBe('h2')
      await openStream(page)
      pages.push(page)
    }
    for (const page of pages)
      await until(() => page.evaluate(() => (window as any).h2Open), 10_000, 'every stream open')
    const metrics: string = await pages[0].evaluate(() => fetch('/metrics').then((r) => r.text()))
    // Ten unshared streams, and the demo page's one shared feed.
    expect(metrics).toMatch(new RegExp(`^sluice_hub_connections ${TABS + 1}$`, 'm'))

    const status = await pages[0].evaluate(() =>
      fetch('/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'h2', data: 'over h2' }),
      }).then((r) => r.status),
    )
    expect(status).toBeLessThan(300)
    for (const page of pages)
      await until(
        () => page.evaluate(() => (window as any).h2Seen.includes('over h2')),
        10_000,
        'the message in every tab',
      )
    // The demo page's own feed streams too.
    for (const page of pages)
      await expect(page.locator('#feed-status').textContent()).resolves.toBe('open')
    // SIGTERM with every stream open: a clean stop (GOAWAY to each session), within the grace.
    const t0 = Date.now()
    await serve.stop('SIGTERM')
    expect(serve.proc.proc.exitCode).toBe(0)
    expect(Date.now() - t0).toBeLessThan(4000)
    for (const page of pages) await page.close()
  })
})
