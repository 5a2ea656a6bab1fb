/**
 * Against servers nobody here wrote — Hono `streamSSE`, `better-sse`,
 * `@fastify/sse`, and a Python standard-library endpoint — sluice's client
 * sees the same events as the spec client (`eventsource`, the EventSource
 * those servers' own docs point their users to).
 */
import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import { createSession } from 'better-sse'
import { EventSource as SpecEventSource } from 'eventsource'
import Fastify from 'fastify'
import fastifySse from '@fastify/sse'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource, events, fetchEventSource } from '../../src/client/index.js'
import { listenLoopback } from '../helpers/http.js'
import {
  describeExternal,
  freePort,
  requireBinary,
  start,
  type Started,
  waitForPort,
} from '../helpers/external.js'

interface Seen {
  event: string
  id: string
  data: string
}
const NAMES = ['message', 'token', 'done']
const SCRIPT = [
  { event: 'token', id: '1', data: 'Hel' },
  { event: undefined, id: '2', data: 'line one\nline two' },
  { event: 'done', id: '3', data: '{"ok":true,"text":"héllo ✓"}' },
]

/** What the `eventsource` package sees: the first `n` events. */
function viaSpecClient(url: string, n: number): Promise<Seen[]> {
  return new Promise((resolve, reject) => {
    const seen: Seen[] = []
    const es = new SpecEventSource(url)
    const t = setTimeout(() => {
      es.close()
      reject(new Error('eventsource saw only ' + JSON.stringify(seen)))
    }, 5000)
    for (const name of NAMES) {
      es.addEventListener(name, (e: MessageEvent) => {
        seen.push({ event: e.type, id: e.lastEventId, data: e.data })
        if (seen.length === n) {
          clearTimeout(t)
          es.close()
          resolve(seen)
        }
      })
    }
  })
}

/** What sluice's events() sees. */
async function viaEvents(url: string, n: number): Promise<Seen[]> {
  const seen: Seen[] = []
  for await (const ev of events(url, { heartbeatTimeout: 5000 })) {
    seen.push({ event: ev.event, id: ev.id, data: ev.data })
    if (seen.length === n) break
  }
  return seen
}

/** What sluice's EventSource sees. */
function viaSluiceEventSource(url: string, n: number): Promise<Seen[]> {
  return new Promise((resolve) => {
    const seen: Seen[] = []
    const es = new EventSource(url)
    for (const name of NAMES) {
      es.addEventListener(name, (e) => {
        const m = e as MessageEvent
        seen.push({ event: m.type, id: m.lastEventId, data: m.data })
        if (seen.length === n) {
          es.close()
          resolve(seen)
        }
      })
    }
  })
}

async function sameEvents(url: string, n = 3) {
  const reference = await viaSpecClient(url, n)
  expect(reference).toHaveLength(n)
  expect(await viaEvents(url, n)).toEqual(reference)
  expect(await viaSluiceEventSource(url, n)).toEqual(reference)
  return reference
}

describe('Hono streamSSE on @hono/node-server', () => {
  let server: ReturnType<typeof serve>
  let url = ''
  beforeAll(async () => {
    const app = new Hono()
    app.get('/sse', (c) =>
      streamSSE(c, async (stream) => {
        for (const e of SCRIPT) await stream.writeSSE({ data: e.data, event: e.event, id: e.id })
        await stream.sleep(3000) // stay open; the clients leave first
      }),
    )
    const port = await freePort()
    server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' })
    await waitForPort(port)
    url = `http://127.0.0.1:${port}/sse`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('the same events as the spec client', async () => {
    const seen = await sameEvents(url)
    expect(seen).toEqual(SCRIPT.map((e) => ({ ...e, event: e.event ?? 'message' })))
  })
})

describe('better-sse on node:http', () => {
  let server: Server
  let url = ''
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const session = await createSession(req, res, { keepAlive: 200 })
      session.push('Hel', 'token', '1')
      session.push({ lines: ['line one', 'line two'] }, 'message', '2')
      session.push({ ok: true, text: 'héllo ✓' }, 'done', '3')
    })
    url = `${(await listenLoopback(server)).url}/`
  })
  afterAll(() => {
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })

  it('the same events as the spec client (better-sse serialises data as JSON)', async () => {
    const seen = await sameEvents(url)
    expect(seen).toEqual([
      { event: 'token', id: '1', data: '"Hel"' },
      { event: 'message', id: '2', data: '{"lines":["line one","line two"]}' },
      { event: 'done', id: '3', data: '{"ok":true,"text":"héllo ✓"}' },
    ])
  })
})

describe('@fastify/sse', () => {
  let app: ReturnType<typeof Fastify>
  let url = ''
  beforeAll(async () => {
    app = Fastify()
    await app.register(fastifySse, { heartbeatInterval: 200 })
    app.get('/events', { sse: true }, async (_req: unknown, reply: any) => {
      reply.sse.keepAlive()
      await reply.sse.send({ id: '1', event: 'token', data: 'Hel' })
      await reply.sse.send({ id: '2', data: 'line one\nline two' })
      await reply.sse.send({ id: '3', event: 'done', data: { ok: true, text: 'héllo ✓' } })
    })
    const port = await freePort()
    await app.listen({ port, host: '127.0.0.1' })
    url = `http://127.0.0.1:${port}/events`
  })
  afterAll(async () => {
    await app.close()
  })

  it('the same events as the spec client', async () => {
    const seen = await sameEvents(url)
    // @fastify/sse serialises every data value as JSON, strings too.
    expect(seen).toEqual([
      { event: 'token', id: '1', data: '"Hel"' },
      { event: 'message', id: '2', data: '"line one\\nline two"' },
      { event: 'done', id: '3', data: '{"ok":true,"text":"héllo ✓"}' },
    ])
  })
})

describeExternal(['python3'], 'a Python standard-library SSE endpoint', () => {
  let py: Started
  let base = ''
  beforeAll(async () => {
    const port = await freePort()
    py = start(requireBinary('python3'), [
      fileURLToPath(new URL('../fixtures/python-sse.py', import.meta.url)),
      String(port),
    ])
    await waitForPort(port)
    base = `http://127.0.0.1:${port}`
  })
  afterAll(async () => {
    await py?.stop()
  })

  it('GET /events: the same events as the spec client', async () => {
    const seen = await sameEvents(base + '/events')
    expect(seen).toEqual(SCRIPT.map((e) => ({ ...e, event: e.event ?? 'message' })))
  })

  it("POST /chat: the guide's envelope stream, read by fetchEventSource", async () => {
    const chunks: string[] = []
    await fetchEventSource(base + '/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sluice' }),
      onmessage(ev) {
        const frame = JSON.parse(ev.data)
        if (frame.code === 200) chunks.push(frame.data)
      },
    })
    expect(chunks.join('')).toBe('sluice')
  })
})
