/**
 * `sluice/vue` and `sluice/react` in real pages: each fixture app
 * (test/frontend/fixtures/{vue,react}) is built with Vite and its framework
 * plugin in the test, served at `/` by the real `sluice serve`, and driven in
 * Chromium. Each page runs the guide's own fetch-event-source options through
 * `useEventStream`, and a `useChat` box.
 */
import vue from '@vitejs/plugin-vue'
import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { build, type PluginOption } from 'vite'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tokenize } from '../../src/cli/chat.js'
import { describeExternal } from '../helpers/external.js'
import { type Served, type ServedPage, servePage } from './app-build.js'
import { type Browser, until } from './support.js'

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))

/** Build a fixture page; `sluice/vue` and `sluice/react` resolve to this repo's entry files. */
async function buildFixture(name: 'vue' | 'react', plugin: PluginOption, outDir: string) {
  await build({
    configFile: false,
    root: here(`./fixtures/${name}`),
    base: './',
    logLevel: 'error',
    plugins: [plugin],
    resolve: {
      alias: {
        'sluice/vue': here('../../src/integrations/vue.ts'),
        'sluice/react': here('../../src/integrations/react.ts'),
      },
    },
    build: { outDir, emptyOutDir: true },
  })
}

async function recordText(page: Page, selector: string): Promise<void> {
  await page.evaluate((sel) => {
    const w = window as any
    w.changes = []
    const watch = () => {
      const el = document.querySelector(sel)
      if (!el) return requestAnimationFrame(watch)
      new MutationObserver(() =>
        w.changes.push({ at: Date.now(), len: el.textContent!.length }),
      ).observe(el, { childList: true, characterData: true, subtree: true })
    }
    watch()
  }, selector)
}

const text = async (page: Page, sel: string) => (await page.locator(sel).textContent()) ?? ''

function bindingSuite(name: 'vue' | 'react', plugin: () => PluginOption, message: string) {
  describeExternal(['chromium'], `sluice/${name} in a Vite-built page, in Chromium`, () => {
    let site: ServedPage
    let served: Served
    let browser: Browser

    beforeAll(async () => {
      site = await servePage(`sluice-${name}-`, (dir) => buildFixture(name, plugin(), dir))
      ;({ served, browser } = site)
    })
    afterAll(() => site?.close())

    it("streams an answer with the guide's fetch-event-source options through useEventStream", async () => {
      const page = await browser.context.newPage()
      await page.goto(served.url + '/?delay=60&tokens=30')
      await recordText(page, '#guide-answer')
      const expected = tokenize({ message, mode: 'words', tokens: 30 }).join('')
      await until(
        async () => (await text(page, '#guide-status')) === 'closed',
        15_000,
        'the stream to close (onclose aborts, as in the guide)',
      )
      expect(await text(page, '#guide-answer')).toBe(expected)
      // The last event's id (a run's store id, or the simulator's count) is what a resume would send.
      expect(await text(page, '#guide-last-id')).not.toBe('')
      const changes: Array<{ at: number; len: number }> = await page.evaluate(
        () => (window as any).changes,
      )
      const grew = changes.filter((c) => c.len > 0)
      expect(new Set(grew.map((c) => c.len)).size).toBeGreaterThanOrEqual(15)
      expect(grew[grew.length - 1].at - grew[0].at).toBeGreaterThan(1000)
      if (name === 'vue') {
        const log: string[] = await page.evaluate(() => (window as any).guideLog)
        expect(log[0]).toBe('open 200')
        expect(log.filter((l) => l === 'token')).toHaveLength(30)
        expect(log.slice(-2)).toEqual(['done', 'close'])
      }
      await page.close()
    })

    it('useChat sends, streams and stops (the server stops generating)', async () => {
      const page = await browser.context.newPage()
      await page.goto(served.url + '/?delay=40&tokens=30')
      await page.click('#ask')
      await until(async () => (await text(page, '#chat-status')) === 'done', 15_000, 'done')
      expect(await text(page, '#chat-answer')).toBe(
        tokenize({ message: 'Hello chat', mode: 'words', tokens: 30 }).join(''),
      )
      await page.close()

      const long = await browser.context.newPage()
      await long.goto(served.url + '/?delay=50&tokens=400')
      await long.click('#toggle-guide') // only the chat streams now
      const aborted = served.app.chat.aborted
      await long.click('#ask')
      await until(async () => (await text(long, '#chat-answer')).length > 10, 10_000, 'tokens')
      await long.click('#stop')
      await until(async () => (await text(long, '#chat-status')) === 'stopped', 5000, 'stopped')
      await until(() => served.app.chat.aborted > aborted, 5000, 'the server to stop the model')
      await long.close()
    })

    it('useChat resumes an answer after a reload (resumeOnMount)', async () => {
      const page = await browser.context.newPage()
      await page.goto(served.url + '/?delay=50&tokens=60')
      await page.click('#toggle-guide')
      await page.click('#ask')
      await until(async () => (await text(page, '#chat-answer')).length > 30, 10_000, 'tokens')
      await page.reload()
      await until(async () => (await text(page, '#chat-status')) === 'done', 15_000, 'resumed')
      expect(await text(page, '#chat-answer')).toBe(
        tokenize({ message: 'Hello chat', mode: 'words', tokens: 60 }).join(''),
      )
      await page.close()
    })

    it('closes the stream when the component unmounts (the server sees it go)', async () => {
      const subscribers = async () =>
        Number(
          /^sluice_hub_connections (\d+)$/m.exec(
            await (await fetch(served.url + '/metrics')).text(),
          )?.[1],
        )
      const page = await browser.context.newPage()
      await page.goto(served.url + '/?delay=40&tokens=5')
      const before = await subscribers()
      await page.click('#toggle-feed')
      await until(async () => (await text(page, '#feed-status')) === 'open', 5000, 'the feed')
      await until(async () => (await subscribers()) === before + 1, 5000, 'one more subscriber')
      await fetch(served.url + '/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'bindings', data: 'ping' }),
      })
      await until(async () => (await text(page, '#feed-data')) === 'ping', 5000, 'the event')
      await page.click('#toggle-feed')
      await until(async () => (await subscribers()) === before, 5000, 'the subscriber to go')
      await page.close()
    })
  })
}

bindingSuite('vue', () => vue(), 'Hello from Vue')
bindingSuite('react', () => react(), 'Hello from React')
