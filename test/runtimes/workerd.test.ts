/**
 * Cloudflare Workers: test/runtimes/worker.ts, bundled by esbuild for
 * `--platform=neutral` (no Node built-in), served by workerd through
 * miniflare with the `enable_request_signal` compatibility flag (required:
 * without it workerd tells a Worker nothing when a client leaves, shown below).
 * Run by `npm test` and as the workerd row of `npm run test:runtimes`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url))
const COMPAT_DATE = '2025-09-01'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function bundleWorker(): Promise<string> {
  const out = await build({
    entryPoints: [WORKER],
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  })
  return out.outputFiles[0]!.text
}

async function workerd(script: string, flags: string[]): Promise<{ mf: Miniflare; base: string }> {
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: COMPAT_DATE,
    compatibilityFlags: flags,
    // No request.cf: miniflare would fetch it from workers.cloudflare.com.
    cf: false,
  })
  return { mf, base: (await mf.ready).toString() }
}

interface StreamState {
  aborted: boolean
  closeReason: string
}

/** Open `/stream`, read its first event, leave; how long until the producer's signal aborted (or -1 within `waitMs`). */
async function leaveAndWatch(base: string, name: string, waitMs: number): Promise<number> {
  const ac = new AbortController()
  const res = await fetch(`${base}stream?name=${name}&heartbeat=100`, { signal: ac.signal })
  await res.body!.getReader().read()
  const left = Date.now()
  ac.abort()
  while (Date.now() - left < waitMs) {
    const state = (await (await fetch(`${base}state`)).json()) as Record<string, StreamState>
    if (state[name]?.aborted) {
      expect(state[name].closeReason).toBe('disconnect')
      return Date.now() - left
    }
    await sleep(50)
  }
  return -1
}

/** The heartbeat comments `res` delivers within `ms`. */
async function heartbeatsWithin(res: Response, ms: number): Promise<number> {
  const reader = res.body!.getReader()
  const utf8 = new TextDecoder()
  const end = Date.now() + ms
  let text = ''
  for (;;) {
    const left = end - Date.now()
    if (left <= 0) break
    const next = await Promise.race([reader.read(), sleep(left).then(() => null)])
    if (!next || next.done) break
    text += utf8.decode(next.value, { stream: true })
  }
  void reader.cancel()
  return text.match(/^:\n/gm)?.length ?? 0
}

let script: string
let worker: { mf: Miniflare; base: string }
let origin: Server

beforeAll(async () => {
  script = await bundleWorker()
  worker = await workerd(script, ['enable_request_signal'])
  // Three events with ids, then silence: what the Worker's EventSource reads.
  origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('id: 1\ndata: one\n\nid: 2\ndata: two\n\nid: 3\ndata: three\n\n')
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
}, 60_000)

afterAll(async () => {
  await worker?.mf.dispose()
  origin?.closeAllConnections()
  await new Promise((r) => origin?.close(r))
})

describe('workerd: eventStreamResponse', () => {
  it('the bundle imports no node: module', () => {
    expect(script).not.toMatch(/(?:from\s*|import\s*\(\s*)["']node:/)
  })

  it('a client that leaves mid-stream is seen by the producer (stream.signal aborts) within 2 s', async () => {
    const ms = await leaveAndWatch(worker.base, 'leaves', 2000)
    expect(ms).toBeGreaterThanOrEqual(0)
    expect(ms).toBeLessThanOrEqual(2000)
  })

  it("a second stream's heartbeats keep coming after the first stream's request ended (3 s at 100 ms)", async () => {
    // A starts the heartbeats, B joins, A's request ends (it completes after 300 ms).
    const a = await fetch(`${worker.base}stream?name=first&heartbeat=100&endAfter=300`)
    const b = await fetch(`${worker.base}stream?name=second&heartbeat=100`)
    expect(await a.text()).toContain('event:open\ndata:first\n\n')
    // About 30 are due; one shared timer set in A's request gave none once A ended.
    expect(await heartbeatsWithin(b, 3000)).toBeGreaterThanOrEqual(15)
  })

  it('without enable_request_signal the producer never learns that the client left (why the flag is required)', async () => {
    const bare = await workerd(script, [])
    try {
      expect(await leaveAndWatch(bare.base, 'unflagged', 2000)).toBe(-1)
    } finally {
      await bare.mf.dispose()
    }
  })
})

describe('workerd: sluice EventSource inside a Worker', () => {
  it('sets lastEventId and calls each handler once per event', async () => {
    const { port } = origin.address() as AddressInfo
    const res = await fetch(
      `${worker.base}es?url=${encodeURIComponent(`http://127.0.0.1:${port}/`)}`,
    )
    expect(await res.json()).toEqual({
      onmessage: 3,
      listener: 3,
      ids: ['1', '2', '3'],
      data: ['one', 'two', 'three'],
    })
  })
})

describe('workerd: sluice/hub on the memory store', () => {
  it('a subscriber gets what is published, within one isolate', async () => {
    const sub = await fetch(`${worker.base}hub/events?topic=news`)
    expect(sub.status).toBe(200)
    const pub = await fetch(`${worker.base}hub/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'news', data: 'hello from workerd' }),
    })
    expect(pub.status).toBe(200)
    const reader = sub.body!.getReader()
    const utf8 = new TextDecoder()
    let text = ''
    const end = Date.now() + 3000
    while (!text.includes('hello from workerd') && Date.now() < end) {
      const next = await Promise.race([reader.read(), sleep(end - Date.now()).then(() => null)])
      if (!next || next.done) break
      text += utf8.decode(next.value, { stream: true })
    }
    void reader.cancel()
    expect(text).toContain('data:hello from workerd')
  })
})
