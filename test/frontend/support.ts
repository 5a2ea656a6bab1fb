/**
 * Shared parts for the front-end tests: a real headless Chromium (Debian's,
 * driven by playwright-core), a small real SSE producer on node:http whose
 * every stream is observable (started, chunks sent, stopped by a disconnect),
 * and a page that records when each event reached the browser.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { encodeComment, encodeEvent } from '../../src/protocol/index.js'
import { type Browser, launchBrowser as launch } from '../helpers/browser.js'
import { listenLoopback } from '../helpers/http.js'

export type { Browser } from '../helpers/browser.js'

/** Chromium at the viewport the demo-page checks assume (fresh profile; `close()` removes it). */
export function launchBrowser(opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<Browser> {
  return launch({
    colorScheme: opts.colorScheme ?? 'light',
    viewport: { width: 1100, height: 760 },
  })
}

/** One stream the producer served: what it sent and how it ended. */
export interface ProducedStream {
  sent: number
  /** 'done' when all events went out; 'client-gone' when the connection closed first. */
  end?: 'done' | 'client-gone'
  endedAt?: number
  lastEventId?: string
  headers: IncomingMessage['headers']
  ended: Promise<void>
}

export interface Producer {
  port: number
  url: string
  streams: ProducedStream[]
  close: () => Promise<void>
}

/**
 * A real SSE producer. `GET /stream?n=N&interval=MS` sends N events (one per
 * interval) with ids, like sluice's emitter: `X-Accel-Buffering: no`, a
 * comment first so the headers leave at once. `GET /` serves RECORDER_PAGE.
 * It stops producing as soon as the client connection closes and records that.
 */
export async function startProducer(): Promise<Producer> {
  const streams: ProducedStream[] = []
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(RECORDER_PAGE)
      return
    }
    if (url.pathname === '/echo') {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-echo': 'yes' })
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: req.headers,
          }),
        )
      })
      return
    }
    // `/events` too, so dev-server configs written for sluice's routes proxy it.
    if (url.pathname !== '/stream' && url.pathname !== '/events') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND"}')
      return
    }
    const n = Number(url.searchParams.get('n') ?? 10)
    const interval = Number(url.searchParams.get('interval') ?? 100)
    let resolveEnded!: () => void
    const s: ProducedStream = {
      sent: 0,
      headers: req.headers,
      lastEventId: req.headers['last-event-id'] as string | undefined,
      ended: new Promise((r) => (resolveEnded = r)),
    }
    streams.push(s)
    // `?plain=1`: a stream as many servers send it, without no-transform and
    // X-Accel-Buffering (the control case that shows a buffering proxy is caught).
    res.writeHead(
      200,
      url.searchParams.get('plain') === '1'
        ? { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }
        : {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache, no-transform',
            'x-accel-buffering': 'no',
          },
    )
    res.socket?.setNoDelay(true)
    res.write(encodeComment('ok'))
    const start = Number(s.lastEventId ?? 0)
    let i = start
    const finish = (end: 'done' | 'client-gone') => {
      if (s.end) return
      clearInterval(timer)
      s.end = end
      s.endedAt = Date.now()
      resolveEnded()
    }
    const timer = setInterval(() => {
      i++
      res.write(encodeEvent({ id: String(i), data: JSON.stringify({ i, sentAt: Date.now() }) }))
      s.sent++
      if (i - start >= n) {
        res.end(encodeEvent({ event: 'done', data: 'done' }))
        finish('done')
      }
    }, interval)
    res.once('close', () => finish(res.writableFinished ? 'done' : 'client-gone'))
  })
  return {
    ...(await listenLoopback(server)),
    streams,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** What the recorder page saw: each event with its send and arrival times. */
export interface Arrival {
  id: string
  i: number
  sentAt: number
  at: number
}

/**
 * The browser side: a native EventSource on `/stream` (same origin as the
 * page, as a front end behind a proxy would use). `window.arrivals` grows as
 * events land; `window.streamDone` turns true at the `done` event.
 */
export const RECORDER_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>recorder</title></head><body>
<pre id="log"></pre>
<script>
window.arrivals = []; window.streamDone = false; window.errors = 0;
window.openStream = function (query) {
  const es = new EventSource('/events?' + query);
  window.es = es;
  es.onmessage = (e) => {
    const d = JSON.parse(e.data);
    window.arrivals.push({ id: e.lastEventId, i: d.i, sentAt: d.sentAt, at: Date.now() });
    document.getElementById('log').textContent += e.data + '\\n';
  };
  es.addEventListener('done', () => { window.streamDone = true; es.close(); });
  es.onerror = () => { window.errors++; };
};
</script></body></html>`

/** Poll until `fn` returns a truthy value, or fail after `timeoutMs` (a liveness bound). */
export async function until<T>(
  fn: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * The check every proxy path must pass, in a real browser tab whose page is
 * served through `front` (the proxy) from the producer behind it:
 * 1. events arrive spread over time — the first well before the last was even
 *    sent, each within a generous liveness bound of its send time;
 * 2. closing the tab stops the producer on the server.
 */
export async function checkStreamingThrough(
  browser: Browser,
  front: string,
  producer: Producer,
  label: string,
): Promise<{ arrivals: Arrival[]; stopMs: number }> {
  const page = await browser.context.newPage()
  await page.goto(front + '/')
  const before = producer.streams.length
  await page.evaluate(() => (window as any).openStream('n=12&interval=200'))
  await until(() => page.evaluate(() => (window as any).streamDone), 15_000, 'the done event')
  const arrivals: Arrival[] = await page.evaluate(() => (window as any).arrivals)
  const served = producer.streams[before]
  if (served?.end !== 'done') throw new Error('the producer did not finish the stream')
  if (arrivals.length !== 12) throw new Error(`expected 12 events, got ${arrivals.length}`)
  const lastSent = arrivals[arrivals.length - 1].sentAt
  // Spread over time: the first event was on screen long before the last was produced.
  if (!(arrivals[0].at < lastSent - 1200))
    throw new Error(
      `buffered: first event at ${arrivals[0].at}, last sent at ${lastSent} (${JSON.stringify(arrivals)})`,
    )
  for (const a of arrivals) {
    if (a.at - a.sentAt > 2000) throw new Error(`event ${a.i} arrived ${a.at - a.sentAt} ms late`)
  }

  // A long stream, then close the tab mid-stream.
  const long = producer.streams.length
  await page.evaluate(() => {
    ;(window as any).arrivals = []
    ;(window as any).openStream('n=100000&interval=50')
  })
  await until(
    () => page.evaluate(() => (window as any).arrivals.length >= 3),
    10_000,
    'the first events of the long stream',
  )
  const stream = producer.streams[long]
  const closedAt = Date.now()
  await page.close()
  await Promise.race([
    stream.ended,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('the producer kept running after the tab closed')), 5000),
    ),
  ])
  if (stream.end !== 'client-gone') throw new Error(`stream ended as ${stream.end}`)
  const sentAtStop = stream.sent
  await new Promise((r) => setTimeout(r, 300)) // a bounded quiet wait: nothing more may be sent
  if (stream.sent !== sentAtStop) throw new Error('the producer kept sending after it stopped')
  const stopMs = (stream.endedAt ?? Date.now()) - closedAt
  const lags = arrivals.map((a) => a.at - a.sentAt)
  console.info(
    `[${label}] ${arrivals.length} events over ${arrivals[arrivals.length - 1].at - arrivals[0].at} ms; ` +
      `send-to-screen lag median ${lags.sort((a, b) => a - b)[lags.length >> 1]} ms, max ${lags[lags.length - 1]} ms; ` +
      `producer stopped ${stopMs} ms after the tab closed`,
  )
  return { arrivals, stopMs }
}
