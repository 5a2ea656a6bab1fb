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
import {
  type Browser,
  checkStreamingThrough,
  launchBrowser,
  type Producer,
  startProducer,
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

describeExternal(['nginx', 'chromium'], 'nginx with examples/nginx/sluice.conf', () => {
  let dir: string
  let producer: Producer
  let nginx: Started
  let front: string
  let browser: Browser

  beforeAll(async () => {
    const bin = requireBinary('nginx')
    dir = await mkdtemp(join(tmpdir(), 'sluice-nginx-'))
    producer = await startProducer()
    const port = await freePort()
    const conf = await nginxPrefix(dir, producer.port, port)
    nginx = start(bin, [
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
    front = `http://127.0.0.1:${port}`
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await nginx?.stop('SIGQUIT')
    await producer?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
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
