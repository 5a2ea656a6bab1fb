/**
 * `GET /sseEmitterTest?name=` of `sluice serve` (the guide's Spring endpoint)
 * and the same endpoint as a standalone app, examples/sse-emitter/server.ts:
 * the same bytes, one character every 100 ms, then the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, start, waitForPort } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'

async function read(
  url: string,
): Promise<{ status: number; type: string | null; chunks: { at: number; text: string }[] }> {
  const t0 = performance.now()
  const res = await fetch(url)
  const chunks: { at: number; text: string }[] = []
  const decoder = new TextDecoder()
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push({ at: performance.now() - t0, text: decoder.decode(c, { stream: true }) })
  }
  return { status: res.status, type: res.headers.get('content-type'), chunks }
}

const WIRE = 'data:H\n\ndata:é\n\ndata:  \n\ndata:😀\n\n'

describe('/sseEmitterTest, the guide’s Spring endpoint', () => {
  let running: RunningApp
  beforeAll(async () => {
    running = await serveApp()
  })
  afterAll(() => running?.close())

  it('streams each character (an emoji whole) as data:<char> every 100 ms, then ends', async () => {
    const { status, type, chunks } = await read(
      `${running.url}/sseEmitterTest?name=${encodeURIComponent('Hé 😀')}`,
    )
    expect(status).toBe(200)
    expect(type).toMatch(/^text\/event-stream/)
    expect(chunks.map((c) => c.text).join('')).toBe(WIRE)
    const spread = chunks.at(-1)!.at - chunks[0].at
    expect(spread).toBeGreaterThan(250) // 3 gaps of 100 ms: streamed, not buffered
  })

  it('answers 400 without a name, or with a name over 1,000 characters', async () => {
    const none = await fetch(`${running.url}/sseEmitterTest`)
    expect(none.status).toBe(400)
    expect((await none.json()).error).toBe('BAD_REQUEST')
    const long = await fetch(`${running.url}/sseEmitterTest?name=${'x'.repeat(1001)}`)
    expect(long.status).toBe(400)
  })

  it('examples/sse-emitter/server.ts sends the same bytes', async () => {
    const port = await freePort()
    const app = start(
      process.execPath,
      ['--import', 'tsx', `${ROOT}/examples/sse-emitter/server.ts`],
      {
        env: { PORT: String(port) },
      },
    )
    try {
      await waitForPort(port, 20_000)
      const { chunks } = await read(
        `http://127.0.0.1:${port}/sseEmitterTest?name=${encodeURIComponent('Hé 😀')}`,
      )
      expect(chunks.map((c) => c.text).join('')).toBe(WIRE)
    } finally {
      app.proc.kill()
    }
  })
})
