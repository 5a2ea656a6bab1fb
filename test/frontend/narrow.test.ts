/**
 * The demo page on a phone-sized viewport (400 px), light and dark: after a
 * chat answer and a publish, nothing sticks out of its card (the connection
 * table with its long ids used to overflow on the right).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { launchBrowser, type Browser } from '../helpers/browser.js'
import { describeExternal } from '../helpers/external.js'
import { buildApp, type Served, serveWithApp, tempDir } from './app-build.js'
import { until } from './support.js'

describeExternal(['chromium'], 'the demo page at 400 px wide, in Chromium', () => {
  let out: { dir: string; remove: () => Promise<void> }
  let served: Served
  const browsers: Browser[] = []

  beforeAll(async () => {
    out = await tempDir('sluice-app-narrow-')
    await buildApp(out.dir)
    served = await serveWithApp(out.dir)
  })
  afterAll(async () => {
    for (const b of browsers) await b.close()
    await served?.close()
    await out?.remove()
  })

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`${colorScheme}: every card's content fits inside the card`, async () => {
      const browser = await launchBrowser({ colorScheme, viewport: { width: 400, height: 900 } })
      browsers.push(browser)
      const page = await browser.context.newPage()
      await page.goto(`${served.url}/`)
      await page.fill('#pub-data', 'hello from a phone')
      await page.click('#publish')
      await page.fill('#message', 'hi')
      await page.click('#send')
      await until(
        async () => (await page.locator('#answer').getAttribute('data-status')) === 'done',
        10_000,
        'the answer',
      )
      await until(
        async () => (await page.locator('.feed-list li').count()) > 0,
        5000,
        'the published message',
      )
      const overflows = await page.evaluate(() => {
        const bad: string[] = []
        if (document.documentElement.scrollWidth > window.innerWidth) {
          bad.push(`page ${document.documentElement.scrollWidth} > ${window.innerWidth}`)
        }
        for (const card of document.querySelectorAll<HTMLElement>('.card')) {
          const box = card.getBoundingClientRect()
          for (const el of card.querySelectorAll<HTMLElement>('*')) {
            if (el.closest('.sr-only')) continue
            const r = el.getBoundingClientRect()
            if (r.width === 0) continue
            if (r.right > box.right + 0.5 || r.left < box.left - 0.5) {
              bad.push(
                `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent ?? '').slice(0, 20)}" ${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(box.left)}..${Math.round(box.right)}`,
              )
            }
          }
        }
        return bad
      })
      expect(overflows).toEqual([])
    })
  }
})
