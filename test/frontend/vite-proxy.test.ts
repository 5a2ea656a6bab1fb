/**
 * A Vite dev server (started programmatically with `createServer`) using
 * examples/vite/vite.config.ts, its `server.proxy` in front of a real SSE
 * producer, read by a real Chromium tab served by Vite.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer, type ViteDevServer } from 'vite'
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

describeExternal(['chromium'], 'Vite dev server proxy with examples/vite/vite.config.ts', () => {
  let dir: string
  let producer: Producer
  let vite: ViteDevServer
  let front: string
  let browser: Browser

  beforeAll(async () => {
    producer = await startProducer()
    dir = await mkdtemp(join(tmpdir(), 'sluice-vite-'))
    await writeFile(join(dir, 'index.html'), RECORDER_PAGE)
    // The example reads the upstream from SLUICE_URL (default http://127.0.0.1:8080).
    process.env.SLUICE_URL = producer.url
    const port = await freePort()
    vite = await createServer({
      configFile: fileURLToPath(new URL('../../examples/vite/vite.config.ts', import.meta.url)),
      root: dir,
      cacheDir: join(dir, '.vite'),
      logLevel: 'error',
      server: { host: '127.0.0.1', port, strictPort: true, hmr: false },
      optimizeDeps: { noDiscovery: true, include: [] },
    })
    await vite.listen()
    front = `http://127.0.0.1:${port}`
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await vite?.close()
    await producer?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('streams event by event through server.proxy, and a closed tab stops the producer', async () => {
    const { arrivals, stopMs } = await checkStreamingThrough(
      browser,
      front,
      producer,
      'vite server.proxy',
    )
    expect(arrivals).toHaveLength(12)
    expect(stopMs).toBeLessThan(5000)
  })

  it('passes Last-Event-ID through', async () => {
    const before = producer.streams.length
    const res = await fetch(front + '/events?n=1&interval=10', {
      headers: { accept: 'text/event-stream', 'last-event-id': '7' },
    })
    expect(await res.text()).toContain('id:8\n')
    expect(producer.streams[before].lastEventId).toBe('7')
  })
})
