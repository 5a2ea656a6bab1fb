/**
 * What every server variant shares: the control routes the harness drives
 * (`/__bench/*`), the publisher loop, and the payload. A variant only says how
 * it accepts a subscriber and how it broadcasts one message; everything else
 * is identical, so the numbers compare the fan-out paths and nothing else.
 *
 * Control routes (loopback only, used by bench/fanout/harness.ts):
 *   GET  /__bench/count                     -> {"count": subscribers}
 *   POST /__bench/gc                        -> runs global.gc() when started with --expose-gc
 *   POST /__bench/heap?dir=D                -> writes a heap snapshot to D/<variant>.heapsnapshot
 *   POST /__bench/burst?count=N&size=B&from=I -> publishes N messages (numbered from I) as fast as backpressure allows
 *   POST /__bench/rate?count=N&rate=R&size=B -> publishes N messages at R per second
 * Each publish route answers once the last message has been handed to the variant.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createH2Server, type Http2Server } from 'node:http2'
import { writeHeapSnapshot } from 'node:v8'

/** One broadcast target. `publish` may return a promise: the loop awaits it (backpressure). */
export interface Fanout {
  count(): number
  publish(data: string): void | Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** Microseconds on the monotonic clock, comparable across processes on one machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

const PAD = 'x'.repeat(1 << 20)

/**
 * A JSON payload of about `size` bytes that ends with `,"t":<us>}`: the load
 * process counts an event when that marker arrives (so an event counts once
 * its last bytes are in, even at 64 KB) and takes latency from the number.
 */
export function payload(i: number, size: number): string {
  const t = String(nowUs())
  const fixed = '{"i":'.length + String(i).length + ',"p":"'.length + '","t":'.length + t.length + 1
  return '{"i":' + i + ',"p":"' + PAD.slice(0, Math.max(0, size - fixed)) + '","t":' + t + '}'
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function burst(fanout: Fanout, count: number, size: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const p = fanout.publish(payload(i, size))
    if (p) await p
  }
}

async function rate(fanout: Fanout, count: number, perSecond: number, size: number): Promise<void> {
  const start = performance.now()
  const interval = 1000 / perSecond
  for (let i = 0; i < count; i++) {
    const due = start + i * interval
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const p = fanout.publish(payload(i, size))
    if (p) await p
  }
}

function num(url: URL, name: string, fallback: number): number {
  const v = Number(url.searchParams.get(name) ?? fallback)
  return Number.isFinite(v) && v >= 0 ? v : fallback
}

/** The control routes; returns true when it handled the request. */
function control(fanout: () => Fanout, req: IncomingMessage, res: ServerResponse): boolean {
  if (!req.url?.startsWith('/__bench/')) return false
  const url = new URL(req.url, 'http://127.0.0.1')
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  const fail = (err: unknown) => json(500, { error: 'bench_failed', message: String(err) })
  switch (url.pathname) {
    case '/__bench/count':
      json(200, { count: fanout().count() })
      return true
    case '/__bench/gc': {
      const gc = (globalThis as { gc?: () => void }).gc
      if (gc) {
        gc()
        gc()
      }
      json(200, { gc: Boolean(gc) })
      return true
    }
    case '/__bench/heap': {
      // A heap snapshot into `dir` (BENCH_HEAP_SNAPSHOT_DIR in the harness): what a connection holds.
      const dir = url.searchParams.get('dir') ?? '.'
      json(200, {
        file: writeHeapSnapshot(`${dir}/${process.env.BENCH_VARIANT ?? 'server'}.heapsnapshot`),
      })
      return true
    }
    case '/__bench/burst':
      burst(fanout(), num(url, 'count', 1), num(url, 'size', 100), num(url, 'from', 0)).then(
        () => json(200, { ok: true }),
        fail,
      )
      return true
    case '/__bench/rate':
      rate(fanout(), num(url, 'count', 1), num(url, 'rate', 10), num(url, 'size', 100)).then(
        () => json(200, { ok: true }),
        fail,
      )
      return true
    default:
      json(404, { error: 'not_found', message: `no control route ${url.pathname}` })
      return true
  }
}

function listen(server: Server | Http2Server): Promise<number> {
  // A long accept queue: the ramp scenario opens connections as fast as it can.
  return new Promise<number>((resolve) =>
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      const addr = server.address()
      resolve(typeof addr === 'object' && addr ? addr.port : 0)
    }),
  )
}

/**
 * Start a variant: `setup` gets the server (to add an upgrade listener, say)
 * and returns the subscriber handler and the fan-out. Prints `READY <port>`.
 *
 * With `{ h2: true }` the subscribers are served over cleartext HTTP/2 (h2c,
 * `node:http2` `createServer()`, whose compatibility request/response the
 * handler gets) on a second port, and the control routes stay on HTTP/1.1
 * (an h2c server takes no HTTP/1.1): prints `READY <control port> H2 <h2 port>`.
 */
export async function serveVariant(
  setup: (
    server: Server,
  ) => Promise<{ handler: Handler; fanout: Fanout }> | { handler: Handler; fanout: Fanout },
  options: { h2?: boolean } = {},
): Promise<void> {
  let variant: { handler: Handler; fanout: Fanout } | undefined
  const server = createServer((req, res) => {
    if (control(() => variant!.fanout, req, res)) return
    variant!.handler(req, res)
  })
  server.keepAliveTimeout = 0
  server.requestTimeout = 0
  server.headersTimeout = 0
  variant = await setup(server)
  const port = await listen(server)
  if (options.h2) {
    // Http2ServerRequest/Response have the members the handlers use at run time.
    const h2 = createH2Server((req, res) =>
      variant!.handler(req as unknown as IncomingMessage, res as unknown as ServerResponse),
    )
    process.stdout.write(`READY ${port} H2 ${await listen(h2)}\n`)
  } else {
    process.stdout.write(`READY ${port}\n`)
  }
  const stop = () => process.exit(0)
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

interface Drainable {
  writableNeedDrain: boolean
  once(event: 'drain' | 'close', listener: () => void): unknown
  off(event: 'drain' | 'close', listener: () => void): unknown
}

/** Resolves when the stream has drained (or closed). */
export function drained(s: Drainable): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      s.off('drain', done)
      s.off('close', done)
      resolve()
    }
    s.once('drain', done)
    s.once('close', done)
  })
}

/**
 * Waits until every stream that needs draining has drained; undefined (no
 * wait at all) when none does. `pick` maps an item to the stream to watch.
 */
export function drainAll<T>(
  items: Iterable<T>,
  pick: (item: T) => Drainable | null = (item) => item as unknown as Drainable,
): Promise<void> | undefined {
  let pending: Promise<void>[] | undefined
  for (const item of items) {
    const s = pick(item)
    if (!s?.writableNeedDrain) continue
    pending ??= []
    pending.push(drained(s))
  }
  return pending ? Promise.all(pending).then(() => undefined) : undefined
}
