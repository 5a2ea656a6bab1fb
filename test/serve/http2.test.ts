/**
 * `sluice serve` over HTTPS with HTTP/2 (listenTls, what --tls-cert/--tls-key
 * start), in-process, with node:http2 as the client: the hub's subscribe,
 * publish and Last-Event-ID replay, a chat run and its resume, HTTP/1.1 on
 * the same port, and a shutdown that ends open streams with SHUTTING_DOWN.
 */
import { isAppEvent } from '../helpers/sse.js'
import http2 from 'node:http2'
import https from 'node:https'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { listenTls, shutdown } from '../../src/cli/serve.js'
import { createServeApp, type ServeApp } from '../../src/cli/serve-app.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { describeExternal } from '../helpers/external.js'
import { makeCertificate } from '../helpers/tls.js'
import { waitUntil } from '../helpers/wait.js'
import { tempDir } from '../frontend/app-build.js'
import { readFileSync } from 'node:fs'

interface H2Stream {
  status: number
  headers: http2.IncomingHttpHeaders
  events: EventSourceMessage[]
  ended: Promise<void>
  req: http2.ClientHttp2Stream
}

/** One request on `session`; its events parsed as they arrive. */
async function request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<H2Stream> {
  const req = session.request(headers)
  if (body !== undefined) req.end(body)
  const events: EventSourceMessage[] = []
  const parser = createParser({ onEvent: (e) => isAppEvent(e) && events.push(e) })
  req.on('data', (d: Buffer) => parser.feed(d))
  const ended = new Promise<void>((resolve) => req.once('close', () => resolve()))
  const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  return { status: Number(head[':status']), headers: head, events, ended, req }
}

describeExternal(['openssl'], 'sluice serve over HTTP/2 (TLS)', () => {
  let app: ServeApp
  let server: Awaited<ReturnType<typeof listenTls>>
  let origin: string
  let session: http2.ClientHttp2Session
  let certs: { remove: () => Promise<void> }

  beforeAll(async () => {
    const dir = await tempDir('sluice-h2-serve-')
    certs = dir
    const files = makeCertificate(dir.dir)
    app = createServeApp({ log: () => {} })
    server = await listenTls(app, '127.0.0.1', 0, {
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
    })
    const addr = server.address()
    origin = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
    session = http2.connect(origin, { rejectUnauthorized: false })
  })
  afterAll(async () => {
    session?.close()
    if (server?.listening) await shutdown(app, server, 200)
    await certs?.remove()
  })

  const publish = async (topic: string, data: string) => {
    const r = await request(
      session,
      { ':method': 'POST', ':path': '/publish', 'content-type': 'application/json' },
      JSON.stringify({ topic, data }),
    )
    await r.ended
    return r.status
  }

  it('subscribes, publishes and replays from Last-Event-ID, as over HTTP/1.1', async () => {
    const sub = await request(session, { ':path': '/events?topic=t2' })
    expect(sub.status).toBe(200)
    expect(sub.headers['content-type']).toBe('text/event-stream')
    expect(sub.headers.connection).toBeUndefined()
    expect(await publish('t2', 'one')).toBe(200)
    expect(await publish('t2', 'two')).toBe(200)
    await waitUntil(() => sub.events.length === 2, 5000)
    expect(sub.events.map((e) => e.data)).toEqual(['one', 'two'])
    sub.req.close(http2.constants.NGHTTP2_CANCEL)
    await waitUntil(async () => {
      const m = await request(session, { ':path': '/metrics' })
      let text = ''
      m.req.on('data', (d: Buffer) => (text += d))
      await m.ended
      return /^sluice_hub_connections 0$/m.test(text)
    }, 5000)
    // Resume after the first: the second is replayed.
    const again = await request(session, {
      ':path': '/events?topic=t2',
      'last-event-id': sub.events[0]!.id,
    })
    await waitUntil(() => again.events.length === 1, 5000)
    expect(again.events[0]!.data).toBe('two')
    again.req.close(http2.constants.NGHTTP2_CANCEL)
  })

  it('streams a chat run to its end, and resumes it from its resume URL', async () => {
    const chat = await request(
      session,
      { ':method': 'POST', ':path': '/chat?delay=2', 'content-type': 'application/json' },
      JSON.stringify({ message: 'over h2' }),
    )
    expect(chat.status).toBe(200)
    await chat.ended
    const tokens = chat.events.filter((e) => e.event === 'token')
    expect(tokens.length).toBeGreaterThan(5)
    expect(chat.events.at(-1)!.event).toBe('done')
    const resume = String(chat.headers['sluice-resume-url'])
    const again = await request(session, { ':path': resume, 'last-event-id': tokens[2]!.id })
    await again.ended
    const replayed = again.events.filter((e) => e.event === 'token')
    expect(replayed.map((e) => e.data)).toEqual(tokens.slice(3).map((e) => e.data))
  })

  it('answers HTTP/1.1 on the same port', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${origin}/healthz`, { rejectUnauthorized: false }, (res) => {
          let text = ''
          res.on('data', (d: Buffer) => (text += d))
          res.on('end', () => resolve(`${res.httpVersion} ${res.statusCode} ${text}`))
        })
        .on('error', reject)
    })
    expect(body).toBe('1.1 200 {"ok":true}')
  })

  it('shutdown ends open streams with SHUTTING_DOWN and closes the server', async () => {
    const sub = await request(session, { ':path': '/events?topic=bye' })
    const t0 = Date.now()
    await shutdown(app, server, 2000)
    expect(Date.now() - t0).toBeLessThan(1500)
    await sub.ended
    expect(sub.events.at(-1)?.data).toContain('SHUTTING_DOWN')
    expect(server.listening).toBe(false)
  })
})
