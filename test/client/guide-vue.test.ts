/**
 * The guide's Vue client, unchanged (POST, headers with an array Accept, a
 * JSON body, the `penWhenHidden` typo, an AbortController, the four
 * callbacks), with sluice's fetchEventSource: mounted by Vue in headless
 * Chromium, and its options object run as-is in Node.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { describeExternal } from '../helpers/external.js'
import { type Browser, bundle, openPage } from '../fixtures/browser.js'
import { guideComponent } from '../fixtures/guide-vue-component.js'
import { type Fixture, sseHead, startFixture } from '../fixtures/sse-server.js'

let fx: Fixture
beforeAll(async () => {
  fx = await startFixture()
  // The guide's server: stream the answer one character at a time, then complete.
  for (const p of ['/node/chat', '/browser/chat']) {
    fx.route(p, async (_req, res) => {
      sseHead(res)
      for (const ch of 'hi!') {
        res.write(`data: ${ch}\n\n`)
        await new Promise((r) => setTimeout(r, 20))
      }
      res.end()
    })
  }
  for (const p of ['/node/broken', '/browser/broken']) {
    fx.route(p, (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('server error')
    })
  }
})
afterAll(async () => {
  await fx.close()
})

/**
 * How long to watch for a request that must not come: a reconnection would
 * follow within the client's first retry delay (1 s at most, before the
 * server sends `retry:`). A quiet wait, as an absence has no event to wait on.
 */
const NO_RECONNECTION_MS = 1500

function checkRequests(path: string) {
  const hits = fx.hits(path)
  expect(hits).toHaveLength(1) // onclose/onerror abort: nothing more is sent
  expect(hits[0].method).toBe('POST')
  expect(hits[0].body).toBe('{"data":""}')
  expect(hits[0].headers['content-type']).toBe('application/json')
  expect(hits[0].headers.accept).toBe('text/event-stream,application/json')
}

/** Run the component's methods as Vue would, without a DOM: data() becomes `this`. */
function runInNode(api: string) {
  const c = guideComponent(api)
  const vm: any = { ...c.data(), ...c.methods }
  c.mounted.call(vm)
  return vm
}

describe('the guide options object in Node', () => {
  it('streams the answer, then onclose aborts: no reconnection', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    try {
      const vm = runInNode(fx.origin + '/node/chat')
      await vi.waitFor(() => expect(vm.ctrl.signal.aborted).toBe(true), { timeout: 5000 })
      await new Promise((r) => setTimeout(r, NO_RECONNECTION_MS)) // nothing more may come
      const calls = log.mock.calls.map((c) => c[0])
      expect(calls[0]).toBeInstanceOf(Response) // onopen(event)
      expect(calls.slice(1, 4)).toEqual(
        ['h', 'i', '!'].map((data) => ({ id: '', event: '', data })),
      )
      expect(calls.slice(4)).toEqual([undefined]) // onclose(e)
    } finally {
      log.mockRestore()
    }
    checkRequests('/node/chat')
  })

  it('a server error reaches onerror, which aborts: exactly one request', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    try {
      const vm = runInNode(fx.origin + '/node/broken')
      await vi.waitFor(() => expect(vm.ctrl.signal.aborted).toBe(true), { timeout: 5000 })
      await new Promise((r) => setTimeout(r, NO_RECONNECTION_MS)) // fetch-event-source would have sent another by now
      const calls = log.mock.calls.map((c) => c[0])
      expect(calls).toHaveLength(2)
      expect(calls[1]).toMatchObject({ code: 'BAD_STATUS', details: { status: 500 } })
    } finally {
      log.mockRestore()
    }
    checkRequests('/node/broken')
  })
})

describeExternal(['chromium'], 'the guide component mounted by Vue in headless Chromium', () => {
  let browser: Browser
  const consoleLines: string[] = []
  beforeAll(async () => {
    const script = await bundle(fileURLToPath(new URL('./guide-vue-entry.ts', import.meta.url)))
    browser = await openPage(fx, script)
    browser.page.on('console', async (m) => {
      if (m.type() !== 'log') return // the guide logs with console.log; skip the browser's own messages
      const v = await m
        .args()[0]
        ?.evaluate((x: any) =>
          x instanceof Response
            ? 'Response ' + x.status
            : x && typeof x === 'object'
              ? JSON.stringify(x.code ? { code: x.code, status: x.details?.status } : x)
              : String(x),
        )
      consoleLines.push(v ?? '')
    })
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('streams the answer, then onclose aborts: no reconnection', async () => {
    consoleLines.length = 0
    await browser.page.evaluate(() => (globalThis as any).mountGuide('/browser/chat'))
    await vi.waitFor(() => expect(consoleLines).toHaveLength(5), { timeout: 5000 })
    await new Promise((r) => setTimeout(r, NO_RECONNECTION_MS)) // nothing more may come
    expect(consoleLines).toEqual([
      'Response 200',
      '{"id":"","event":"","data":"h"}',
      '{"id":"","event":"","data":"i"}',
      '{"id":"","event":"","data":"!"}',
      'undefined',
    ])
    checkRequests('/browser/chat')
  })

  it('a server error reaches onerror, which aborts: exactly one request', async () => {
    consoleLines.length = 0
    await browser.page.evaluate(() => (globalThis as any).mountGuide('/browser/broken'))
    await vi.waitFor(() => expect(consoleLines).toHaveLength(2), { timeout: 5000 })
    await new Promise((r) => setTimeout(r, NO_RECONNECTION_MS)) // nothing more may come
    expect(consoleLines).toEqual(['Response 500', '{"code":"BAD_STATUS","status":500}'])
    checkRequests('/browser/broken')
  })
})
