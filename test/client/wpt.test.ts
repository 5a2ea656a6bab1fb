/**
 * The WHATWG EventSource rules, as a port of the web-platform-tests
 * `eventsource/` cases (see wpt-cases.ts), run against the local fixture
 * server twice: in Node, and in headless Chromium from a bundled page.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource } from '../../src/client/index.js'
import { describeExternal } from '../helpers/external.js'
import { type Browser, bundle, openPage } from '../fixtures/browser.js'
import { type Fixture, startFixture } from '../fixtures/sse-server.js'
import { cases } from './wpt-cases.js'

let fixture: Fixture
beforeAll(async () => {
  fixture = await startFixture()
})
afterAll(async () => {
  await fixture.close()
})

describe('WPT eventsource/ in Node', () => {
  for (const c of cases) {
    it(c.name, async () => {
      expect(await c.run(EventSource, fixture.origin)).toEqual(c.expected)
    })
  }
})

describeExternal(['chromium'], 'WPT eventsource/ in headless Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    const script = await bundle(fileURLToPath(new URL('./wpt-browser-entry.ts', import.meta.url)))
    browser = await openPage(fixture, script)
  })
  afterAll(async () => {
    await browser?.close()
  })
  for (const c of cases) {
    it(c.name, async () => {
      const observed = await browser.page.evaluate(
        (name) => (globalThis as any).runCase(name),
        c.name,
      )
      expect(observed).toEqual(c.expected)
    })
  }
})
