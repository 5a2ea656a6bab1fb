/**
 * webpack-dev-server 5 with the proxy from examples/webpack/webpack.config.mjs
 * in front of a real SSE producer, read by a real Chromium tab served by the
 * dev server. A control shows the guide's problem: with the default
 * compression, a stream without `Cache-Control: no-transform` is held back.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import webpack from 'webpack'
import WebpackDevServer from 'webpack-dev-server'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal, freePort } from '../helpers/external.js'
import {
  type Browser,
  checkStreamingThrough,
  launchBrowser,
  type Producer,
  RECORDER_PAGE,
  startProducer,
} from './support.js'

/** A dev server from the example's devServer options, plus test-only overrides. */
async function startDevServer(
  dir: string,
  port: number,
  overrides: Record<string, unknown> = {},
): Promise<WebpackDevServer> {
  const example = (
    await import(new URL('../../examples/webpack/webpack.config.mjs', import.meta.url).href)
  ).default as {
    devServer: Record<string, unknown>
  }
  const compiler = webpack({
    mode: 'development',
    context: dir,
    entry: './main.js',
    output: { path: join(dir, 'out') },
    infrastructureLogging: { level: 'error' },
    stats: 'none',
  })
  const server = new WebpackDevServer(
    {
      ...example.devServer,
      host: '127.0.0.1',
      port,
      static: { directory: join(dir, 'public'), watch: false },
      hot: false,
      liveReload: false,
      client: false,
      webSocketServer: false,
      ...overrides,
    },
    compiler,
  )
  await server.start()
  return server
}

/** Milliseconds from the request until the first event's bytes arrived, and until the end. */
async function firstAndLast(url: string): Promise<{ first: number; last: number; body: string }> {
  const t0 = Date.now()
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', 'accept-encoding': 'gzip' },
  })
  const reader = res.body!.getReader()
  let first = -1
  let body = ''
  const dec = new TextDecoder()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    body += dec.decode(value, { stream: true })
    if (first < 0 && body.includes('data:{')) first = Date.now() - t0
  }
  return { first, last: Date.now() - t0, body }
}

describeExternal(['chromium'], 'webpack-dev-server proxy with examples/webpack', () => {
  let dir: string
  let producer: Producer
  let dev: WebpackDevServer
  let front: string
  let browser: Browser

  beforeAll(async () => {
    producer = await startProducer()
    dir = await mkdtemp(join(tmpdir(), 'sluice-webpack-'))
    await mkdir(join(dir, 'public'))
    await writeFile(join(dir, 'public', 'index.html'), RECORDER_PAGE)
    await writeFile(join(dir, 'main.js'), 'export {}\n')
    process.env.SLUICE_URL = producer.url
    const port = await freePort()
    dev = await startDevServer(dir, port)
    front = `http://127.0.0.1:${port}`
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await dev?.stop()
    await producer?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('streams event by event, and a closed tab stops the producer', async () => {
    const { arrivals, stopMs } = await checkStreamingThrough(
      browser,
      front,
      producer,
      'webpack-dev-server',
    )
    expect(arrivals).toHaveLength(12)
    expect(stopMs).toBeLessThan(5000)
  })

  it('compression (the default) respects no-transform, and buffers streams without it', async () => {
    const port = await freePort()
    const compressing = await startDevServer(dir, port, { compress: true })
    try {
      const base = `http://127.0.0.1:${port}/events?n=8&interval=150`
      // sluice-like headers (no-transform): streamed, even with compression on.
      const ok = await firstAndLast(base)
      expect(ok.body.match(/data:\{/g)).toHaveLength(8)
      expect(ok.first).toBeLessThan(ok.last - 600)
      // Control: the same stream without no-transform is gzipped and held back to the end.
      const held = await firstAndLast(base + '&plain=1')
      expect(held.body.match(/data:\{/g)).toHaveLength(8)
      expect(held.first).toBeGreaterThan(held.last - 300)
    } finally {
      await compressing.stop()
    }
  })
})
