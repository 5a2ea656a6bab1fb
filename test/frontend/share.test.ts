/**
 * Issue 19: the demo page's live feed opens its stream with `share`, so ten
 * tabs of one Chromium over HTTP/1.1 (six connections per origin) all load
 * and all stream, on one connection to the server. The leader tab closing
 * or reloading mid-stream loses no event in the others (they resume from the
 * last id any tab saw); a follower unsubscribing does not close the leader's stream.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal } from '../helpers/external.js'
import { buildApp, type Served, type ServedPage, servePage } from './app-build.js'
import { type Browser, until } from './support.js'

const TABS = 10

/** Record every event the live feed shows (the list itself keeps only 50), from the first paint. */
async function recordFeed(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as any
    w.feedSeen = []
    const watch = () => {
      const list = document.getElementById('feed')
      if (!list) return
      new MutationObserver((records) => {
        for (const r of records)
          for (const n of r.addedNodes) {
            const el = n as HTMLElement
            w.feedSeen.push({
              id: el.querySelector('.eid')?.textContent?.slice(1) ?? '',
              data: el.querySelector('.data')?.textContent ?? '',
            })
          }
      }).observe(list, { childList: true })
    }
    document.addEventListener('DOMContentLoaded', watch)
  })
}

type Seen = Array<{ id: string; data: string }>
const seen = (page: Page): Promise<Seen> => page.evaluate(() => (window as any).feedSeen)
const feedStatus = (page: Page) => page.locator('#feed-status').textContent()

async function connections(served: Served): Promise<{ open: number; total: number }> {
  const text = await (await fetch(served.url + '/metrics')).text()
  const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1])
  return {
    open: value('sluice_hub_connections'),
    total: value('sluice_hub_connections_total'),
  }
}

async function publish(served: Served, data: string): Promise<void> {
  const res = await fetch(served.url + '/publish', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic: 'demo', data }),
  })
  expect(res.status).toBeLessThan(300)
}

describeExternal(['chromium'], 'the demo page in ten tabs, sharing one stream', () => {
  let site: ServedPage
  let served: Served
  let browser: Browser
  const pages: Page[] = []

  beforeAll(async () => {
    site = await servePage('sluice-share-', buildApp)
    ;({ served, browser } = site)
  })
  afterAll(() => site?.close())

  it('loads ten tabs over HTTP/1.1, all on one connection, and a publish reaches all ten', async () => {
    for (let i = 0; i < TABS; i++) {
      const page = await browser.context.newPage()
      await recordFeed(page)
      // Each load must finish: a seventh unshared stream would hold the page's own requests.
      await page.goto(served.url + '/', { timeout: 15_000 })
      pages.push(page)
    }
    for (const page of pages)
      await until(async () => (await feedStatus(page)) === 'open', 10_000, 'every feed open')
    await until(async () => (await connections(served)).open === 1, 5000, 'one connection')
    expect(await connections(served)).toEqual({ open: 1, total: 1 })

    await publish(served, 'hello ten tabs')
    const t0 = Date.now()
    for (const page of pages)
      await until(
        async () => (await seen(page)).some((e) => e.data === 'hello ten tabs'),
        10_000,
        'the message in every tab',
      )
    console.info(`[share] one publish on screen in ${TABS} tabs within ${Date.now() - t0} ms`)
  })

  it('loses no event when the leader tab closes mid-stream', async () => {
    const before = await Promise.all(pages.map(async (p) => (await seen(p)).length))
    const N = 60
    const leader = pages.shift()!
    for (let i = 1; i <= N; i++) {
      await publish(served, `m${i}`)
      if (i === 20) await leader.close() // the first tab holds the lock: it leads
      await new Promise((r) => setTimeout(r, 20))
    }
    const want = Array.from({ length: N }, (_, i) => `m${i + 1}`)
    for (const [k, page] of pages.entries()) {
      await until(
        async () => (await seen(page)).some((e) => e.data === `m${N}`),
        15_000,
        `the last event in tab ${k + 2}`,
      )
      const got = (await seen(page)).slice(before[k + 1])
      // Every event once, in order, with the hub's ids rising by one.
      expect(got.map((e) => e.data)).toEqual(want)
      const seqs = got.map((e) => Number(e.id.split('-').pop()))
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1] + 1)
    }
    await until(async () => (await connections(served)).open === 1, 5000, 'one connection again')
    // The handover is one reconnection: one stream more in all.
    expect((await connections(served)).total).toBe(2)
  })

  it('loses no event when the leader tab reloads mid-stream, and the reloaded tab follows again', async () => {
    const leader = pages[0]! // next in the lock's queue after the first leader: it leads now
    const others = pages.slice(1)
    const before = await Promise.all(others.map(async (p) => (await seen(p)).length))
    const N = 40
    for (let i = 1; i <= N; i++) {
      await publish(served, `r${i}`)
      if (i === 15) await leader.reload({ waitUntil: 'commit' })
      await new Promise((r) => setTimeout(r, 20))
    }
    const want = Array.from({ length: N }, (_, i) => `r${i + 1}`)
    for (const [k, page] of others.entries()) {
      await until(
        async () => (await seen(page)).some((e) => e.data === `r${N}`),
        15_000,
        'the last event in every other tab',
      )
      expect((await seen(page)).slice(before[k]).map((e) => e.data)).toEqual(want)
    }
    await until(async () => (await feedStatus(leader)) === 'open', 10_000, 'the reloaded feed')
    await publish(served, 'after the reload')
    await until(
      async () => (await seen(leader)).some((e) => e.data === 'after the reload'),
      10_000,
      'the reloaded tab to follow',
    )
    expect(await connections(served)).toEqual({ open: 1, total: 3 })
  })

  it("a follower's close does not close the leader's stream", async () => {
    const follower = pages[pages.length - 1]
    await follower.getByRole('button', { name: 'Unsubscribe from demo' }).click()
    await until(async () => (await feedStatus(follower)) === 'closed', 5000, 'the follower closed')
    await publish(served, 'after the follower left')
    for (const page of pages.slice(0, -1))
      await until(
        async () => (await seen(page)).some((e) => e.data === 'after the follower left'),
        10_000,
        'the message in the other tabs',
      )
    expect(await connections(served)).toEqual({ open: 1, total: 3 })
    expect((await seen(follower)).some((e) => e.data === 'after the follower left')).toBe(false)
    for (const page of pages) await page.close()
  })
})
