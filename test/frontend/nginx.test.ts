/**
 * A real nginx, started by the test with examples/nginx/sluice.conf (only its
 * two addresses rewritten to free loopback ports), in front of a real SSE
 * producer, read by a real Chromium tab.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  describeExternal,
  freePort,
  requireBinary,
  start,
  type Started,
  waitForPort,
} from '../helpers/external.js'
import { buildApp, type Served, type ServedPage, servePage } from './app-build.js'
import {
  type Browser,
  checkStreamingThrough,
  launchBrowser,
  type Producer,
  startProducer,
  until,
} from './support.js'

/** Write a runnable nginx prefix: the example config, every temp path inside `dir`. */
export async function nginxPrefix(dir: string, upstream: number, listen: number): Promise<string> {
  const example = await readFile(
    new URL('../../examples/nginx/sluice.conf', import.meta.url),
    'utf8',
  )
  const site = example
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${upstream};`)
    .replace('listen 127.0.0.1:8088;', `listen 127.0.0.1:${listen};`)
  if (!site.includes(String(upstream)) || !site.includes(String(listen)))
    throw new Error('examples/nginx/sluice.conf no longer has the addresses this test rewrites')
  await writeFile(join(dir, 'sluice.conf'), site)
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    await mkdir(join(dir, 'tmp', t), { recursive: true })
  // Workers may run as an unprivileged user when the test runs as root.
  await chmod(dir, 0o755)
  await chmod(join(dir, 'tmp'), 0o777)
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    await chmod(join(dir, 'tmp', t), 0o777)
  const main = join(dir, 'nginx.conf')
  await writeFile(
    main,
    `worker_processes 1;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    include ${dir}/sluice.conf;
}
`,
  )
  return main
}

/** A real nginx with the example config in front of `upstreamPort`; stop() also removes its prefix dir. */
async function startNginx(
  upstreamPort: number,
): Promise<{ front: string; stop: () => Promise<void> }> {
  const bin = requireBinary('nginx')
  const dir = await mkdtemp(join(tmpdir(), 'sluice-nginx-'))
  const port = await freePort()
  const conf = await nginxPrefix(dir, upstreamPort, port)
  const nginx: Started = start(bin, [
    '-p',
    dir,
    '-c',
    conf,
    '-e',
    'stderr',
    '-g',
    `daemon off; pid ${dir}/nginx.pid; error_log stderr;`,
  ])
  await waitForPort(port, 10_000).catch((err) => {
    throw new Error(`${err.message}\nnginx said:\n${nginx.output()}`)
  })
  return {
    front: `http://127.0.0.1:${port}`,
    async stop() {
      await nginx.stop('SIGQUIT')
      await rm(dir, { recursive: true, force: true })
    },
  }
}

describeExternal(['nginx', 'chromium'], 'nginx with examples/nginx/sluice.conf', () => {
  let producer: Producer
  let nginx: { front: string; stop: () => Promise<void> }
  let front: string
  let browser: Browser

  beforeAll(async () => {
    producer = await startProducer()
    nginx = await startNginx(producer.port)
    front = nginx.front
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await nginx?.stop()
    await producer?.close()
  })

  it('streams with proxy_buffering on, and a closed tab stops the producer', async () => {
    const { arrivals, stopMs } = await checkStreamingThrough(browser, front, producer, 'nginx')
    expect(arrivals).toHaveLength(12)
    expect(stopMs).toBeLessThan(5000)
  })

  it('passes Last-Event-ID through', async () => {
    const before = producer.streams.length
    const res = await fetch(front + '/stream?n=1&interval=10', {
      headers: { accept: 'text/event-stream', 'last-event-id': '7' },
    })
    expect(await res.text()).toContain('id:8\n')
    expect(producer.streams[before].lastEventId).toBe('7')
  })
})

describeExternal(['nginx', 'chromium'], 'the demo page of sluice serve behind nginx', () => {
  let site: ServedPage
  let served: Served
  let nginx: { front: string; stop: () => Promise<void> }
  let browser: Browser

  beforeAll(async () => {
    site = await servePage('sluice-app-', buildApp)
    ;({ served, browser } = site)
    nginx = await startNginx(served.port)
  })
  afterAll(async () => {
    await nginx?.stop()
    await site?.close()
  })

  it('streams the chat answer token by token, and a closed tab ends the feed stream on the server', async () => {
    const page = await browser.context.newPage()
    await page.goto(nginx.front + '/?delay=60&tokens=30')
    await until(
      async () => (await page.locator('#feed-status').textContent()) === 'open',
      5000,
      'the feed to open',
    )
    await page.evaluate(() => {
      const el = document.getElementById('answer')!
      const w = window as any
      w.changes = []
      new MutationObserver(() => w.changes.push(Date.now())).observe(el, {
        childList: true,
        characterData: true,
        subtree: true,
      })
    })
    await page.click('#send')
    await until(
      async () => (await page.locator('#answer').getAttribute('data-status')) === 'done',
      15_000,
      'the answer',
    )
    const changes: number[] = await page.evaluate(() => (window as any).changes)
    expect(changes.length).toBeGreaterThanOrEqual(20)
    expect(changes[changes.length - 1] - changes[0]).toBeGreaterThan(1000)
    // The page's feed subscription is open on the hub; closing the tab ends it
    // (read from the server's own GET /metrics).
    const subscribers = async () =>
      Number(
        /^sluice_hub_connections (\d+)$/m.exec(
          await (await fetch(served.url + '/metrics')).text(),
        )?.[1],
      )
    expect(await subscribers()).toBe(1)
    await page.close()
    await until(async () => (await subscribers()) === 0, 5000, 'the server to see the tab close')
  })
})
