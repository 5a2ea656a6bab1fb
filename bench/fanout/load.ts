/**
 * The load process: opens N event-stream (or WebSocket) connections over raw
 * TCP and counts what arrives. It runs as its own process (forked by the
 * harness), so its CPU never lands on the server's account.
 *
 * Counting is cheap on purpose: every payload ends with `,"t":<us>}` (see
 * servers/common.ts), so an event is one `Buffer.indexOf` hit in the raw bytes,
 * whatever the framing (SSE `data:` lines inside HTTP chunks, or WebSocket
 * frames). Only the latency mode reads the number after the marker: the
 * publish time in microseconds on the monotonic clock, which every process on
 * the machine shares.
 */
import { randomBytes } from 'node:crypto'
import { type ClientHttp2Session, connect as h2connect } from 'node:http2'
import { connect } from 'node:net'

/** HTTP/1.1 event stream, WebSocket, or an event stream over cleartext HTTP/2 (h2c). */
export type Transport = 'sse' | 'ws' | 'h2'

/** HTTP/2: streams opened per session (browsers and most servers allow 100 at once). */
export const H2_STREAMS_PER_SESSION = 100

export type LoadRequest =
  | {
      type: 'open'
      port: number
      path: string
      transport: Transport
      n: number
      /** Connections being opened at once. */
      concurrency: number
      timeoutMs: number
      /** Track ids and payload sequence numbers per connection (the resume scenario). */
      track?: boolean
      /** Reopen the connections dropped by `drop`, each sending the last id it saw as Last-Event-ID. */
      resume?: boolean
      /** h2: streams per session (default H2_STREAMS_PER_SESSION). */
      streamsPerSession?: number
    }
  /** Reset the counters (answered with `armed`), then answer `delivered` once every connection has `perConn` events. */
  | {
      type: 'expect'
      perConn: number
      latency: boolean
      timeoutMs: number
      sampleCap?: number
      /** Tracking mode: a connection is done once it has seen payload number `untilI`. */
      untilI?: number
      /** Connections to wait for, when they are opened after this (default: those open now). */
      conns?: number
    }
  /** Destroy every connection, keeping what each saw (for `open` with `resume`). */
  | { type: 'drop' }
  | { type: 'close' }

export interface Opened {
  type: 'opened'
  ok: number
  failed: number
  /** Milliseconds from the first connect to the last response head. */
  ms: number
  errors: string[]
  /**
   * Mean size of the response head (status line and headers), bytes: sent once per connection.
   * h2: bytes the sessions' sockets received while opening, less the streams' body bytes, per
   * stream (HEADERS frames, HPACK-compressed, plus each stream's share of the SETTINGS exchange).
   */
  headBytes: number
  /** h2: sessions the streams were opened over. */
  sessions?: number
}

export interface LatencySummary {
  samples: number
  p50: number
  p99: number
  p999: number
  max: number
  mean: number
}

export interface Delivered {
  type: 'delivered'
  delivered: number
  expected: number
  /** Connections that got everything they were owed. */
  complete: number
  /** Body bytes received during the phase (after the response head), all connections. */
  bytes: number
  /** h2: bytes the sessions' sockets received during the phase (DATA frame headers included). */
  socketBytes?: number
  /** Monotonic microseconds of the first and the last event seen in the phase. */
  firstUs: number
  lastUs: number
  /** Latency in microseconds (latency mode only). */
  latency?: LatencySummary
  /** Tracking mode: payload numbers skipped (lost) and seen twice, over all connections. */
  lost?: number
  duplicates?: number
  timedOut: boolean
}

const MARKER = Buffer.from(',"t":')
const M = MARKER.length
const HEAD_END = Buffer.from('\r\n\r\n')

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/** What one subscriber saw, kept across a reconnect. */
interface Track {
  text: string
  lastId: string
  maxI: number
  lost: number
  duplicates: number
}

class Conn {
  /** h2: bytes the stream's DATA frames carried while opening (to split the head off). */
  openBody = 0
  track: Track | undefined
  headDone = false
  headBytes = 0
  done = false
  head: Buffer | undefined
  count = 0
  bytes = 0
  /** Last up to M-1 bytes of the previous chunk (a marker may straddle chunks). */
  tail: Buffer | undefined
  /** Latency mode: bytes from an incomplete marker+number at the end of the previous chunk. */
  carry: Buffer | undefined
  constructor(readonly destroy: () => void) {}
}

let conns: Conn[] = []
/** While `open` runs: h2 body bytes then count toward the opening, not a phase. */
let opening = false
/** h2 sessions of the current connections. */
let sessions: ClientHttp2Session[] = []
const socketBytes = () => sessions.reduce((a, s) => a + (s.socket?.bytesRead ?? 0), 0)
let latencyMode = false
let perConn = Number.POSITIVE_INFINITY
let completeConns = 0
let delivered = 0
let firstUs = 0
let lastUs = 0
let samples: Float64Array = new Float64Array(0)
let sampleCount = 0
let onComplete: (() => void) | undefined
/** Tracking mode: the payload number that completes a connection (a replay may add events, so not a count). */
let untilI = Number.POSITIVE_INFINITY
let expectedConns = 0
let dropped: (Track | undefined)[] = []

// An `id:` line (the hub's and better-sse's), or a whole payload with its number.
const TRACK_RE = /(?:^|\n)id: ?([^\r\n]*)\n|"i":(\d+),"p":"x*","t":\d+\}/g

/** Tracking mode (low volume): read ids and payload numbers, find gaps and repeats. */
function trackChunk(c: Conn, buf: Buffer): void {
  const t = c.track!
  const text = t.text + buf.toString('latin1')
  TRACK_RE.lastIndex = 0
  let end = 0
  let n = 0
  for (let m = TRACK_RE.exec(text); m; m = TRACK_RE.exec(text)) {
    end = TRACK_RE.lastIndex
    if (m[1] !== undefined) {
      t.lastId = m[1]
      continue
    }
    const i = Number(m[2])
    if (i <= t.maxI) t.duplicates++
    else {
      t.lost += i - t.maxI - 1
      t.maxI = i
    }
    n++
  }
  t.text = text.slice(end).slice(-4096)
  counted(c, n, nowUs())
  if (!c.done && t.maxI >= untilI) {
    c.done = true
    completeConns++
    if (completeConns === expectedConns) onComplete?.()
  }
}

function counted(c: Conn, n: number, at: number): void {
  if (n === 0) return
  if (firstUs === 0) firstUs = at
  lastUs = at
  const before = c.count
  c.count += n
  delivered += n
  if (untilI === Number.POSITIVE_INFINITY && before < perConn && c.count >= perConn) {
    completeConns++
    if (completeConns === expectedConns) onComplete?.()
  }
}

/** Count markers in a body chunk without copying it. */
function countChunk(c: Conn, buf: Buffer): number {
  let n = 0
  if (c.tail) {
    const edge = Buffer.concat([c.tail, buf.subarray(0, M - 1)])
    const at = edge.indexOf(MARKER)
    if (at !== -1 && at < c.tail.length) n++
  }
  let pos = 0
  for (;;) {
    const at = buf.indexOf(MARKER, pos)
    if (at === -1) break
    n++
    pos = at + M
  }
  const keep = Math.min(M - 1, buf.length)
  c.tail = Buffer.from(buf.subarray(buf.length - keep))
  return n
}

/** Count markers and read the timestamp after each (latency mode). */
function latencyChunk(c: Conn, chunk: Buffer, now: number): number {
  const buf = c.carry ? Buffer.concat([c.carry, chunk]) : chunk
  c.carry = undefined
  let n = 0
  let pos = 0
  for (;;) {
    const at = buf.indexOf(MARKER, pos)
    if (at === -1) {
      const keep = Math.min(M - 1, buf.length - pos)
      if (keep > 0) c.carry = Buffer.from(buf.subarray(buf.length - keep))
      break
    }
    let i = at + M
    let t = 0
    while (i < buf.length) {
      const d = buf[i] - 48
      if (d < 0 || d > 9) break
      t = t * 10 + d
      i++
    }
    if (i === buf.length) {
      c.carry = Buffer.from(buf.subarray(at))
      break
    }
    n++
    if (sampleCount < samples.length) samples[sampleCount++] = now - t
    pos = i
  }
  return n
}

function onBody(c: Conn, buf: Buffer): void {
  if (buf.length === 0) return
  c.bytes += buf.length
  if (c.track) trackChunk(c, buf)
  else if (latencyMode) {
    const now = nowUs()
    counted(c, latencyChunk(c, buf, now), now)
  } else {
    const n = countChunk(c, buf)
    if (n) counted(c, n, nowUs())
  }
}

function requestHead(port: number, path: string, transport: Transport, lastEventId = ''): string {
  const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`]
  if (lastEventId) lines.push(`Last-Event-ID: ${lastEventId}`)
  if (transport === 'ws') {
    lines.push(
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
    )
  } else {
    lines.push('Accept: text/event-stream', 'Cache-Control: no-cache')
  }
  return lines.join('\r\n') + '\r\n\r\n'
}

function openOne(port: number, path: string, transport: Transport, track?: Track): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true })
    const c = new Conn(() => socket.destroy())
    c.track = track
    const expectStatus = transport === 'ws' ? ' 101 ' : ' 200 '
    socket.once('connect', () => socket.write(requestHead(port, path, transport, track?.lastId)))
    socket.on('error', (err) => {
      if (!c.headDone) reject(err)
    })
    socket.on('data', (chunk: Buffer) => {
      if (c.headDone) return onBody(c, chunk)
      c.head = c.head ? Buffer.concat([c.head, chunk]) : chunk
      const end = c.head.indexOf(HEAD_END)
      if (end === -1) return
      const status = c.head.subarray(0, c.head.indexOf('\r\n')).toString('latin1')
      if (!status.includes(expectStatus)) {
        socket.destroy()
        reject(new Error(`unexpected response: ${status}`))
        return
      }
      c.headDone = true
      c.headBytes = end + HEAD_END.length
      const rest = c.head.subarray(end + HEAD_END.length)
      c.head = undefined
      resolve(c)
      onBody(c, rest)
    })
  })
}

/** One event stream as a stream of an HTTP/2 session, counted like the HTTP/1.1 body. */
function openStream(
  session: ClientHttp2Session,
  path: string,
  lastEventId: string,
  track?: Track,
): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':path': path,
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    })
    const c = new Conn(() => stream.close())
    c.track = track
    stream.on('error', (err) => {
      if (!c.headDone) reject(err)
    })
    stream.once('response', (headers) => {
      if (headers[':status'] !== 200) {
        stream.close()
        reject(new Error(`unexpected response: ${headers[':status']}`))
        return
      }
      c.headDone = true
      resolve(c)
    })
    stream.on('data', (chunk: Buffer) => {
      if (!c.headDone) return
      onBody(c, chunk)
      if (opening) c.openBody += chunk.length
    })
  })
}

/**
 * HTTP/2 flow-control windows as Chrome sets them (6 MiB per stream, 15 MiB
 * per session), not node's 64 KiB default: with 64 KiB, a 64 KB event fills
 * a stream's window and each one waits for a WINDOW_UPDATE round trip.
 */
const H2_STREAM_WINDOW = 6 * 1024 * 1024
const H2_SESSION_WINDOW = 15 * 1024 * 1024

function openSession(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`, {
      settings: { initialWindowSize: H2_STREAM_WINDOW },
    })
    session.once('connect', () => {
      session.setLocalWindowSize(H2_SESSION_WINDOW)
      resolve(session)
    })
    session.once('error', reject)
    // Errors after the connect land on the streams; keep the session from throwing.
    session.on('error', () => {})
  })
}

async function open(req: Extract<LoadRequest, { type: 'open' }>): Promise<Opened> {
  const started = performance.now()
  const deadline = started + req.timeoutMs
  const errors: string[] = []
  let next = 0
  let failed = 0
  // h2: stream k goes over session floor(k / perSession), each session opened by the first stream that needs it.
  const perSession = Math.max(1, req.streamsPerSession ?? H2_STREAMS_PER_SESSION)
  const mine: Promise<ClientHttp2Session>[] = []
  const bytes0 = socketBytes()
  opening = true
  const worker = async () => {
    while (next < req.n && performance.now() < deadline) {
      const k = next++
      const track: Track | undefined = req.resume
        ? dropped[k]
        : req.track
          ? { text: '', lastId: '', maxI: -1, lost: 0, duplicates: 0 }
          : undefined
      if (track) track.text = ''
      try {
        if (req.transport === 'h2') {
          const s = Math.floor(k / perSession)
          if (!mine[s]) {
            mine[s] = openSession(req.port)
            mine[s].then((session) => sessions.push(session)).catch(() => {})
          }
          conns.push(await openStream(await mine[s], req.path, track?.lastId ?? '', track))
        } else conns.push(await openOne(req.port, req.path, req.transport, track))
      } catch (err) {
        failed++
        const text = String(err)
        if (errors.length < 5 && !errors.includes(text)) errors.push(text)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(req.concurrency, req.n)) }, worker))
  opening = false
  if (req.transport === 'h2' && conns.length) {
    const body = conns.reduce((a, c) => a + c.openBody, 0)
    const head = (socketBytes() - bytes0 - body) / conns.length
    for (const c of conns) c.headBytes = head
  }
  return {
    type: 'opened',
    ok: conns.length,
    failed: failed + (req.n - next),
    ms: performance.now() - started,
    errors,
    headBytes: conns.length ? conns.reduce((a, c) => a + c.headBytes, 0) / conns.length : 0,
    ...(req.transport === 'h2' ? { sessions: mine.length } : {}),
  }
}

function expect(req: Extract<LoadRequest, { type: 'expect' }>): Promise<Delivered> {
  const socket0 = socketBytes()
  latencyMode = req.latency
  perConn = req.perConn
  completeConns = 0
  delivered = 0
  firstUs = 0
  lastUs = 0
  sampleCount = 0
  untilI = req.untilI ?? Number.POSITIVE_INFINITY
  expectedConns = req.conns ?? conns.length
  const expected = req.perConn * expectedConns
  samples = new Float64Array(req.latency ? Math.min(expected, req.sampleCap ?? 2_000_000) : 0)
  for (const c of conns) {
    c.count = 0
    c.bytes = 0
    c.done = false
    c.carry = undefined
  }
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const finish = (timedOut: boolean) => {
      if (timer) clearTimeout(timer)
      onComplete = undefined
      let bytes = 0
      for (const c of conns) bytes += c.bytes
      const latency = req.latency ? summarise(samples.subarray(0, sampleCount)) : undefined
      const tracks = conns.flatMap((c) => (c.track ? [c.track] : []))
      resolve({
        type: 'delivered',
        delivered,
        expected,
        complete: completeConns,
        bytes,
        ...(sessions.length ? { socketBytes: socketBytes() - socket0 } : {}),
        firstUs,
        lastUs,
        latency,
        ...(tracks.length
          ? {
              lost: tracks.reduce((a, t) => a + t.lost, 0),
              duplicates: tracks.reduce((a, t) => a + t.duplicates, 0),
            }
          : {}),
        timedOut,
      })
    }
    if (expectedConns === 0 || req.perConn === 0) return finish(false)
    onComplete = () => finish(false)
    timer = setTimeout(() => finish(true), req.timeoutMs)
  })
}

function summarise(xs: Float64Array): LatencySummary {
  const sorted = Float64Array.from(xs).sort()
  const q = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0
  let sum = 0
  for (const x of sorted) sum += x
  return {
    samples: sorted.length,
    p50: q(0.5),
    p99: q(0.99),
    p999: q(0.999),
    max: sorted.length ? sorted[sorted.length - 1] : 0,
    mean: sorted.length ? sum / sorted.length : 0,
  }
}

function close(): void {
  for (const c of conns) c.destroy()
  conns = []
  for (const s of sessions) s.destroy()
  sessions = []
}

process.on('message', (msg: LoadRequest) => {
  const reply = (m: unknown) => process.send?.(m)
  if (msg.type === 'open') open(msg).then(reply)
  else if (msg.type === 'expect') {
    const delivered = expect(msg)
    reply({ type: 'armed' })
    delivered.then(reply)
  } else if (msg.type === 'drop') {
    dropped = conns.map((c) => c.track)
    close()
    reply({ type: 'dropped' })
  } else if (msg.type === 'close') {
    close()
    reply({ type: 'closed' })
  }
})
process.on('disconnect', () => process.exit(0))
process.send?.({ type: 'ready' })
