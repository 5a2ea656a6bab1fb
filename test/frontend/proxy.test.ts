/**
 * `sluice proxy`: a dev reverse proxy that never buffers event streams. In
 * front of a real SSE producer, through the real CLI process and in-process.
 */
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { createProxyServer } from '../../src/cli/proxy.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { describeExternal, freePort, type Started } from '../helpers/external.js'
import { listenLoopback } from '../helpers/http.js'
import { startSluice } from '../helpers/serve.js'
import {
  type Browser,
  checkStreamingThrough,
  launchBrowser,
  type Producer,
  startProducer,
} from './support.js'

/** Read an SSE response with sluice's parser, noting when each event arrived. */
async function readEvents(res: Response): Promise<Array<EventSourceMessage & { at: number }>> {
  const out: Array<EventSourceMessage & { at: number }> = []
  const parser = createParser({ onEvent: (e) => out.push({ ...e, at: Date.now() }) })
  const reader = res.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parser.feed(value)
  }
  return out
}

describe('sluice proxy (in-process)', () => {
  let producer: Producer
  let proxy: Server
  let front: string

  beforeAll(async () => {
    producer = await startProducer()
    proxy = createProxyServer({ target: producer.url })
    front = (await listenLoopback(proxy)).url
  })
  afterAll(async () => {
    proxy.closeAllConnections()
    await new Promise((r) => proxy.close(r))
    await producer.close()
  })

  it('delivers each event as it is produced, not at the end', async () => {
    const res = await fetch(front + '/stream?n=8&interval=100', {
      headers: { accept: 'text/event-stream' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    expect(res.headers.get('content-encoding')).toBeNull()
    const events = await readEvents(res)
    const data = events.filter((e) => e.event === '').map((e) => JSON.parse(e.data))
    expect(data.map((d) => d.i)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // The first event was in our hands long before the last one was produced.
    expect(events[0].at).toBeLessThan(data[7].sentAt - 400)
  })

  it('passes Last-Event-ID and other headers upstream', async () => {
    const before = producer.streams.length
    const res = await fetch(front + '/stream?n=2&interval=10', {
      headers: { accept: 'text/event-stream', 'last-event-id': '41', 'x-trace': 'abc' },
    })
    const events = await readEvents(res)
    const served = producer.streams[before]
    expect(served.lastEventId).toBe('41')
    expect(served.headers['x-trace']).toBe('abc')
    expect(served.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(events.filter((e) => e.event === '').map((e) => e.id)).toEqual(['42', '43'])
  })

  it('proxies other methods with their bodies, status and headers', async () => {
    const body = JSON.stringify({ message: 'héllo'.repeat(10_000) })
    const res = await fetch(front + '/echo?x=1', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-echo')).toBe('yes')
    const echo = await res.json()
    expect(echo).toMatchObject({ method: 'PUT', url: '/echo?x=1', body })
    expect(echo.headers['content-type']).toBe('application/json')
  })

  it('stops the producer at once when the client aborts', async () => {
    const before = producer.streams.length
    const ctrl = new AbortController()
    const res = await fetch(front + '/stream?n=100000&interval=20', {
      headers: { accept: 'text/event-stream' },
      signal: ctrl.signal,
    })
    const reader = res.body!.getReader()
    await reader.read()
    const stream = producer.streams[before]
    const abortedAt = Date.now()
    ctrl.abort()
    await stream.ended
    expect(stream.end).toBe('client-gone')
    // Liveness bound, generous: the disconnect reached the producer within two seconds.
    expect(stream.endedAt! - abortedAt).toBeLessThan(2000)
  })

  it('answers 502 with a JSON error when the upstream is down', async () => {
    const dead = createProxyServer({ target: `http://127.0.0.1:${await freePort()}` })
    const url = (await listenLoopback(dead)).url
    try {
      const res = await fetch(url + '/anything')
      expect(res.status).toBe(502)
      const body = await res.json()
      expect(body.error).toBe('BAD_GATEWAY')
      expect(body.message).toMatch(/could not reach/)
    } finally {
      await new Promise((r) => dead.close(r))
    }
  })

  it("passes WebSocket upgrades through (a dev server's HMR)", async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((r) => wss.once('listening', r))
    wss.on('connection', (sock) => sock.on('message', (m) => sock.send(`echo ${m}`)))
    const wsProxy = createProxyServer({ target: `http://127.0.0.1:${(wss.address() as any).port}` })
    const url = (await listenLoopback(wsProxy)).url
    try {
      const ws = new WebSocket(url.replace('http', 'ws') + '/hmr')
      await new Promise((r, j) => ws.once('open', r).once('error', j))
      ws.send('hi')
      const reply = await new Promise((r) => ws.once('message', (m) => r(String(m))))
      expect(reply).toBe('echo hi')
      ws.close()
    } finally {
      wsProxy.closeAllConnections()
      await new Promise((r) => wsProxy.close(r))
      for (const c of wss.clients) c.terminate()
      await new Promise((r) => wss.close(r))
    }
  })

  it('refuses a target that is not an http(s) URL', () => {
    expect(() => createProxyServer({ target: 'localhost:8080' })).toThrow(/http/)
    expect(() => createProxyServer({ target: 'not a url' })).toThrow(/absolute http/)
  })
})

describeExternal(['chromium'], 'sluice proxy (the CLI) in front of a producer, in Chromium', () => {
  let producer: Producer
  let cli: Started
  let front: string
  let browser: Browser

  beforeAll(async () => {
    producer = await startProducer()
    const proxy = await startSluice('proxy', ['--target', producer.url])
    cli = proxy.proc
    front = proxy.url
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await cli?.stop()
    await producer?.close()
  })

  it('streams to a native EventSource and passes the closed tab upstream', async () => {
    const { arrivals, stopMs } = await checkStreamingThrough(
      browser,
      front,
      producer,
      'sluice proxy',
    )
    expect(arrivals).toHaveLength(12)
    expect(stopMs).toBeLessThan(5000)
    expect(cli.output()).toMatch(/GET \/events\?n=12&interval=200 -> 200 \(event stream\)/)
  })
})
