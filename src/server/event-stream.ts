/**
 * The emitter core: one event stream to one client, with Spring `SseEmitter`'s
 * vocabulary (`send`, `complete`, `completeWithError`, a timeout where 0 means
 * never, completion/timeout/error callbacks) and without its holes:
 *
 * - every end is exactly one of `complete`, `error`, `disconnect`, `timeout`,
 *   `slow-consumer`; it aborts `signal` (reason: a `StreamClosedError` naming
 *   it), resolves `closed`, and runs `onCompletion` listeners;
 * - `send()` returns a promise that settles when the bytes are accepted below
 *   the transport's high-water mark, so an awaiting producer never grows memory;
 *   a producer that does not await is cut off at `maxBufferedBytes`;
 * - heartbeats come from one shared timer and never queue behind a backlog.
 *
 * The core knows nothing of the transport: a `Sink` (node:http response or a
 * Web `ReadableStream`, see node.ts and web.ts) does the bytes.
 */
import { encodeComment, encodeEvent } from '../protocol/encoder.js'
import { SluiceError } from '../protocol/errors.js'
import type { EventInit } from '../protocol/types.js'
import { addHeartbeat, removeHeartbeat, type HeartbeatTarget } from './heartbeat.js'

/** How a stream ended. */
export type CloseReason = 'complete' | 'error' | 'disconnect' | 'timeout' | 'slow-consumer'

export const CLOSE_REASONS: readonly CloseReason[] = [
  'complete',
  'error',
  'disconnect',
  'timeout',
  'slow-consumer',
]

/** The reason of an aborted `signal`, and the rejection of a send after the end. */
export class StreamClosedError extends SluiceError {
  readonly reason: CloseReason
  constructor(reason: CloseReason, cause?: unknown) {
    super('STREAM_CLOSED', closedMessage(reason), { reason }, cause === undefined ? {} : { cause })
    this.reason = reason
  }
}

function closedMessage(reason: CloseReason): string {
  switch (reason) {
    case 'complete':
      return 'The event stream was completed; nothing more can be sent on it.'
    case 'error':
      return 'The event stream ended with an error (completeWithError); nothing more can be sent on it.'
    case 'disconnect':
      return 'The client disconnected; stop producing for this stream.'
    case 'timeout':
      return 'The event stream timed out (the `timeout` option); nothing more can be sent on it.'
    case 'slow-consumer':
      return 'The client read too slowly: more than `maxBufferedBytes` were waiting, so the stream was cut. Await `send()` to follow the client’s pace.'
  }
}

/** What `send()` accepts: an event, or a value sent as its data (strings as is, anything else as JSON). */
export interface SendEvent {
  /** A string is sent as is; any other value is JSON-serialised once. */
  data?: unknown
  event?: string
  id?: string
  retry?: number
}

export interface EventStreamOptions {
  /** Total lifetime in ms, as `new SseEmitter(timeout)`; 0 (the default) means never. */
  timeout?: number
  /** Heartbeat interval in ms (default 15 000, under the 60 s idle timeout of nginx and most load balancers); 0 disables. */
  heartbeat?: number
  /** The bytes of a heartbeat (default `:\n`, a comment). Envelope streams use `data:{"code":102}\n\n`. */
  heartbeatFrame?: string
  /** Written first: the client's reconnection delay in ms. */
  retry?: number
  /** Bytes allowed to wait for a slow client before the stream is cut with `slow-consumer` (default 1 MiB). */
  maxBufferedBytes?: number
  /** Extra response headers (CORS, `Sluice-Resume-Url`...). They cannot override the event-stream ones. */
  headers?: Record<string, string | number | readonly string[]>
  /** Response status (default 200). */
  status?: number
  /**
   * What `completeWithError(err)` writes before ending: an event, raw encoded
   * text, or null for nothing. Default: `event: error` with
   * `{"error":code,"message":...}`, where the message is the error's own only for
   * a `SluiceError` or an error marked `expose: true`, so internals do not leak.
   */
  formatError?: (error: unknown) => SendEvent | string | null
  /** Overrides the `Last-Event-ID` read from the request. */
  lastEventId?: string
}

export const DEFAULT_HEARTBEAT_MS = 15_000
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * The transport under a stream. `write` takes bytes and says whether the
 * transport is still below its high-water mark; the sink calls `drained()`,
 * `gone()` on the stream it was attached to.
 */
export interface Sink {
  write(chunk: Uint8Array): boolean
  /** Bytes accepted but not yet handed to the client's socket. */
  buffered(): number
  /** End gracefully, after the buffered bytes. */
  end(): void
  /** End at once, dropping buffered bytes (`disconnect`: the client is gone already; `slow-consumer`: cut it). */
  abort(reason: CloseReason, error?: unknown): void
}

/** Counters for all streams of the process (what `/metrics` reports). */
export const streamStats = {
  /** Streams open now. */
  open: 0,
  /** Streams ever opened. */
  opened: 0,
  /** Streams ended, by reason. */
  closed: {
    complete: 0,
    error: 0,
    disconnect: 0,
    timeout: 0,
    'slow-consumer': 0,
  } as Record<CloseReason, number>,
  /** Heartbeats written. */
  heartbeats: 0,
  /** Event-stream bytes handed to transports. */
  bytesWritten: 0,
}

const utf8 = new TextEncoder()
const RESOLVED: Promise<void> = Promise.resolve()
const noop = (): void => {}
const DEFAULT_HEARTBEAT_BYTES = utf8.encode(encodeComment(''))

type Listener<A> = (arg: A) => void

/**
 * @internal An object told when a stream ends: what the hub registers per
 * subscriber instead of a closure (one object per connection does it all).
 */
export interface CompletionTarget {
  streamClosed(reason: CloseReason): void
}

type Completion = Listener<CloseReason> | CompletionTarget

/** Settings shared by every stream opened with the same values (most streams: the defaults). */
interface Config {
  readonly heartbeatMs: number
  readonly heartbeatBytes: Uint8Array
  readonly maxBuffered: number
}

/** Configs without a custom heartbeat frame, by heartbeat and cap: one object for all streams alike. */
const configs = new Map<string, Config>()

function configFor(heartbeatMs: number, frame: string | undefined, maxBuffered: number): Config {
  if (frame !== undefined) {
    return { heartbeatMs, heartbeatBytes: utf8.encode(frame), maxBuffered }
  }
  const key = `${heartbeatMs}/${maxBuffered}`
  let config = configs.get(key)
  if (config === undefined) {
    config = { heartbeatMs, heartbeatBytes: DEFAULT_HEARTBEAT_BYTES, maxBuffered }
    // Bounded: a process using thousands of distinct settings gets its own objects past it.
    if (configs.size < 64) configs.set(key, config)
  }
  return config
}

/**
 * What most streams never need, created on first use: an idle stream carries
 * one field for all of it instead of ten (measured with bench/fanout, idle
 * scenario: every field is 8 bytes per connection).
 */
interface Extras {
  formatError?: EventStreamOptions['formatError']
  timer?: ReturnType<typeof setTimeout>
  controller?: AbortController
  closedPromise?: Promise<CloseReason>
  resolveClosed?: (reason: CloseReason) => void
  waiters?: Array<() => void>
  pending?: Uint8Array[]
  timeoutListeners?: Listener<void>[]
  errorListeners?: Listener<unknown>[]
}

/**
 * One event stream. Create it with `createEventStream(req, res)` (node:http,
 * Express, Fastify) or `eventStreamResponse(request, producer)` /
 * `createWebEventStream(request)` (Web `Response`: Hono, Bun, Deno, Workers).
 */
export class EventStream implements HeartbeatTarget {
  /** `Last-Event-ID` from the request header or its `lastEventId` query parameter ('' when absent). */
  readonly lastEventId: string

  private sink: Sink | null = null
  /** Why the stream ended; undefined while it is open. */
  private why: CloseReason | undefined = undefined
  /** Heartbeat ticks since the last write (a write zeroes it). */
  private idle = 0
  private readonly config: Config
  /** Completion listeners: none, one (the usual case: no array), or several. */
  private done: Completion | Completion[] | undefined = undefined
  private x: Extras | undefined = undefined

  /** @internal Use `createEventStream` or `eventStreamResponse`. */
  constructor(options: EventStreamOptions = {}, lastEventId = '') {
    const heartbeat = options.heartbeat ?? DEFAULT_HEARTBEAT_MS
    const timeout = options.timeout ?? 0
    const max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
    checkMs('heartbeat', heartbeat)
    checkMs('timeout', timeout)
    if (!(max > 0)) {
      throw new SluiceError('INVALID_ARGUMENT', '`maxBufferedBytes` must be a positive number.', {
        maxBufferedBytes: max,
      })
    }
    // Encoded first, so a bad value throws here (INVALID_FIELD) before anything is registered.
    const retryBytes =
      options.retry === undefined ? undefined : utf8.encode(encodeEvent({ retry: options.retry }))
    this.lastEventId = options.lastEventId ?? lastEventId
    this.config = configFor(heartbeat, options.heartbeatFrame, max)
    if (options.formatError !== undefined) this.extras().formatError = options.formatError
    streamStats.open++
    streamStats.opened++
    if (heartbeat > 0) addHeartbeat(heartbeat, this)
    if (timeout > 0) this.extras().timer = setTimeout(() => this.timedOut(), timeout)
    if (retryBytes) void this.writeBytes(retryBytes)
  }

  /** @internal Attach the transport. Writes made before it are flushed now, in order. */
  attach(sink: Sink): void {
    this.sink = sink
    const x = this.x
    const pending = x?.pending
    if (x) x.pending = undefined
    if (this.why === undefined) {
      let below = true
      if (pending) for (const chunk of pending) below = sink.write(chunk)
      if (below) this.drained()
      // Writes before the transport (the `retry:` line) were all the extras held: drop them.
      if (x && isEmpty(x)) this.x = undefined
      return
    }
    // Ended before it was attached: end the transport the same way.
    if (this.why === 'complete' || this.why === 'error' || this.why === 'timeout') {
      if (pending) for (const chunk of pending) sink.write(chunk)
      sink.end()
    } else sink.abort(this.why)
  }

  /** Aborted when the stream ends, whichever way; `signal.reason` is a `StreamClosedError` naming the reason. */
  get signal(): AbortSignal {
    const x = this.extras()
    if (!x.controller) {
      x.controller = new AbortController()
      if (this.why !== undefined) x.controller.abort(new StreamClosedError(this.why))
    }
    return x.controller.signal
  }

  /** Resolves with the reason once the stream has ended. Never rejects. */
  get closed(): Promise<CloseReason> {
    const x = this.extras()
    if (!x.closedPromise) {
      if (this.why !== undefined) x.closedPromise = Promise.resolve(this.why)
      else x.closedPromise = new Promise((resolve) => (x.resolveClosed = resolve))
    }
    return x.closedPromise
  }

  /** Whether the stream has ended. */
  get isClosed(): boolean {
    return this.why !== undefined
  }

  /** Why the stream ended, or undefined while open. */
  get closeReason(): CloseReason | undefined {
    return this.why
  }

  /** Bytes waiting to reach the client (in the transport's buffer). */
  get bufferedBytes(): number {
    if (this.sink) return this.sink.buffered()
    let n = 0
    const pending = this.x?.pending
    if (pending) for (const c of pending) n += c.byteLength
    return n
  }

  /**
   * Send an event. A string is the data; an object with only `data`, `event`,
   * `id`, `retry` keys is an event (its `data` JSON-serialised unless a
   * string); any other value is sent as JSON data. Resolves when the bytes are
   * accepted below the transport's high-water mark; rejects with
   * `STREAM_CLOSED` after the end.
   */
  send(message: unknown): Promise<void> {
    if (this.why !== undefined) return Promise.reject(new StreamClosedError(this.why))
    let text: string
    try {
      text = encodeEvent(toEventInit(message))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.writeBytes(utf8.encode(text))
  }

  /** A comment line (ignored by clients), e.g. for padding or a manual heartbeat. */
  comment(text = ''): Promise<void> {
    if (this.why !== undefined) return Promise.reject(new StreamClosedError(this.why))
    return this.writeBytes(utf8.encode(encodeComment(text)))
  }

  /**
   * Write already-encoded event-stream text or bytes (encode once with
   * `encodeEventBytes`, write the same bytes to many streams). Same ordering,
   * backpressure, buffer cap and heartbeat bookkeeping as `send()`. The caller
   * vouches that the chunk is whole, well-formed events.
   */
  write(chunk: string | Uint8Array): Promise<void> {
    if (this.why !== undefined) return Promise.reject(new StreamClosedError(this.why))
    return this.writeBytes(typeof chunk === 'string' ? utf8.encode(chunk) : chunk)
  }

  /** End the stream normally, after everything sent so far. Idempotent. */
  complete(): void {
    this.close('complete')
  }

  /**
   * Write an error event (see `formatError`), then end the stream with reason
   * `error`; `onError` listeners get `error`. Idempotent.
   */
  completeWithError(error: unknown): void {
    if (this.why !== undefined) return
    let frame: SendEvent | string | null
    try {
      frame = (this.x?.formatError ?? defaultFormatError)(error)
    } catch {
      frame = defaultFormatError(error)
    }
    if (frame !== null) {
      try {
        const text = typeof frame === 'string' ? frame : encodeEvent(toEventInit(frame))
        // Not awaited: the end flushes it; a failure here is already the error being reported.
        this.writeBytes(utf8.encode(text)).catch(noop)
      } catch {
        // An unencodable error frame must not hide the original error.
      }
    }
    this.close('error', error)
  }

  /** Called once when the stream ends, whichever way, with the reason. */
  onCompletion(listener: (reason: CloseReason) => void): this {
    return this.addCompletion(listener)
  }

  /**
   * @internal `onCompletion` for an object: `target.streamClosed(reason)` is
   * called instead of a closure (the hub's one object per subscriber).
   */
  addCompletion(target: Completion): this {
    if (this.why !== undefined) {
      const why = this.why
      queueMicrotask(() => complete(target, why))
      return this
    }
    const done = this.done
    if (done === undefined) this.done = target
    else if (Array.isArray(done)) done.push(target)
    else this.done = [done, target]
    return this
  }

  /** Called when `timeout` elapses, before the stream ends: a listener may still send a last event. */
  onTimeout(listener: () => void): this {
    const x = this.extras()
    ;(x.timeoutListeners ??= []).push(listener)
    return this
  }

  /** Called with the error of `completeWithError`, or the `SLOW_CONSUMER` error of a cut stream. */
  onError(listener: (error: unknown) => void): this {
    const x = this.extras()
    ;(x.errorListeners ??= []).push(listener)
    return this
  }

  /** @internal The transport can take more (node 'drain', Web `pull`). */
  drained(): void {
    const x = this.x
    const waiters = x?.waiters
    if (!waiters || waiters.length === 0) return
    x.waiters = undefined
    for (const resolve of waiters) resolve()
  }

  /** @internal The client went away (socket closed, body cancelled). */
  gone(error?: unknown): void {
    this.close('disconnect', error)
  }

  /** @internal Called by the shared heartbeat timer. */
  heartbeatTick(idleTicks: number): void {
    if (this.why !== undefined || ++this.idle < idleTicks) return
    // Never queue a heartbeat behind a backlog: bytes are waiting already.
    if (!this.sink || this.sink.buffered() > 0) return
    this.idle = 0
    const bytes = this.config.heartbeatBytes
    streamStats.heartbeats++
    streamStats.bytesWritten += bytes.byteLength
    this.sink.write(bytes)
  }

  private extras(): Extras {
    let x = this.x
    if (x === undefined) {
      x = {
        formatError: undefined,
        timer: undefined,
        controller: undefined,
        closedPromise: undefined,
        resolveClosed: undefined,
        waiters: undefined,
        pending: undefined,
        timeoutListeners: undefined,
        errorListeners: undefined,
      }
      this.x = x
    }
    return x
  }

  private writeBytes(bytes: Uint8Array): Promise<void> {
    const sink = this.sink
    const buffered = this.bufferedBytes
    const max = this.config.maxBuffered
    // A single event larger than the cap still goes out when nothing waits before it.
    if (buffered > 0 && buffered + bytes.byteLength > max) {
      const error = new SluiceError(
        'SLOW_CONSUMER',
        `The client is not reading: ${buffered} bytes were waiting and ${bytes.byteLength} more would pass maxBufferedBytes (${max}); the stream was cut. Await send() to follow the client's pace, or raise maxBufferedBytes.`,
        { buffered, size: bytes.byteLength, maxBufferedBytes: max },
      )
      this.close('slow-consumer', error)
      const rejected = Promise.reject(new StreamClosedError('slow-consumer', error))
      // Reported through onError, `closed` and the counter; a producer that does not await must not crash the process.
      rejected.catch(noop)
      return rejected
    }
    this.idle = 0
    streamStats.bytesWritten += bytes.byteLength
    if (!sink) {
      const x = this.extras()
      ;(x.pending ??= []).push(bytes)
      return this.waitForDrain()
    }
    if (sink.write(bytes)) return RESOLVED
    return this.waitForDrain()
  }

  private waitForDrain(): Promise<void> {
    const x = this.extras()
    return new Promise((resolve) => (x.waiters ??= []).push(resolve))
  }

  private timedOut(): void {
    const x = this.x!
    x.timer = undefined
    if (this.why !== undefined) return
    const listeners = x.timeoutListeners
    if (listeners) for (const l of listeners) safeCall(l, undefined)
    this.close('timeout')
  }

  private close(reason: CloseReason, error?: unknown): void {
    if (this.why !== undefined) return
    this.why = reason
    const heartbeatMs = this.config.heartbeatMs
    if (heartbeatMs > 0) removeHeartbeat(heartbeatMs, this)
    const x = this.x
    if (x?.timer !== undefined) {
      clearTimeout(x.timer)
      x.timer = undefined
    }
    streamStats.open--
    streamStats.closed[reason]++
    const sink = this.sink
    if (sink) {
      if (reason === 'complete' || reason === 'error' || reason === 'timeout') sink.end()
      else sink.abort(reason, error)
    }
    // Pending sends were accepted into the buffer; the end is reported by signal/closed, not by rejecting them.
    this.drained()
    if (x) {
      x.controller?.abort(new StreamClosedError(reason, error))
      x.resolveClosed?.(reason)
      // A disconnect is the client's choice, not an error (its socket error, if any, is on signal.reason).
      if ((reason === 'error' || reason === 'slow-consumer') && x.errorListeners) {
        for (const l of x.errorListeners) safeCall(l, error)
      }
      x.timeoutListeners = x.errorListeners = undefined
    }
    const done = this.done
    this.done = undefined
    if (done === undefined) return
    if (Array.isArray(done)) for (const c of done) complete(c, reason)
    else complete(done, reason)
  }
}

function isEmpty(x: Extras): boolean {
  return (
    x.formatError === undefined &&
    x.timer === undefined &&
    x.controller === undefined &&
    x.closedPromise === undefined &&
    x.resolveClosed === undefined &&
    x.waiters === undefined &&
    x.pending === undefined &&
    x.timeoutListeners === undefined &&
    x.errorListeners === undefined
  )
}

function complete(target: Completion, reason: CloseReason): void {
  try {
    if (typeof target === 'function') target(reason)
    else target.streamClosed(reason)
  } catch (err) {
    // A throwing listener must not stop the others or the close itself.
    console.error('sluice: an event-stream listener threw:', err)
  }
}

function safeCall<A>(listener: Listener<A>, arg: A): void {
  try {
    listener(arg)
  } catch (err) {
    // A throwing listener must not stop the others or the close itself.
    console.error('sluice: an event-stream listener threw:', err)
  }
}

function checkMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      `\`${name}\` must be a non-negative number of milliseconds (0 = never).`,
      {
        [name]: value,
      },
    )
  }
}

const EVENT_KEYS = new Set(['data', 'event', 'id', 'retry'])

/** A plain object whose keys are all among data/event/id/retry is an event; anything else is data. */
function isEventShape(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  let any = false
  for (const key in value) {
    if (!EVENT_KEYS.has(key)) return false
    any = true
  }
  return any
}

function dataText(data: unknown): string | undefined {
  if (data === undefined) return undefined
  if (typeof data === 'string') return data
  const json = JSON.stringify(data)
  if (json === undefined) {
    throw new SluiceError(
      'INVALID_FIELD',
      `Cannot send ${typeof data} as data: it has no JSON form.`,
      {
        field: 'data',
      },
    )
  }
  return json
}

function toEventInit(message: unknown): EventInit {
  if (typeof message === 'string') return { data: message }
  if (message === undefined) {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      '`send()` needs something to send: a string, an event `{ data, event?, id?, retry? }`, or a JSON value.',
    )
  }
  if (message !== null && typeof message === 'object' && isEventShape(message)) {
    const m = message as SendEvent
    const init: EventInit = {}
    const data = dataText(m.data)
    if (data !== undefined) init.data = data
    if (m.event !== undefined) init.event = m.event
    if (m.id !== undefined) init.id = m.id
    if (m.retry !== undefined) init.retry = m.retry
    return init
  }
  return { data: dataText(message) }
}

/** The default error frame: safe to show a user. */
export function defaultFormatError(error: unknown): SendEvent {
  const exposed =
    error instanceof SluiceError ||
    (error !== null && typeof error === 'object' && (error as { expose?: unknown }).expose === true)
  const code =
    error !== null && typeof error === 'object' && typeof (error as any).code === 'string'
      ? (error as any).code
      : 'INTERNAL'
  const message =
    exposed && error instanceof Error
      ? error.message
      : 'The server failed while streaming this response.'
  return { event: 'error', data: JSON.stringify({ error: exposed ? code : 'INTERNAL', message }) }
}

/** The event-stream response headers, plus `extra` (which cannot override them). */
export function eventStreamHeaders(
  extra: EventStreamOptions['headers'],
  http11: boolean,
): Record<string, string | number | readonly string[]> {
  const headers: Record<string, string | number | readonly string[]> = {}
  if (extra) {
    for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
  }
  headers['content-type'] = 'text/event-stream; charset=utf-8'
  headers['cache-control'] = 'no-cache, no-transform'
  headers['x-accel-buffering'] = 'no'
  if (http11) headers.connection = 'keep-alive'
  else delete headers.connection
  // A length or encoding would make proxies and clients wait for the end.
  delete headers['content-length']
  delete headers['content-encoding']
  return headers
}

/** `Last-Event-ID` from a header value or the `lastEventId` query parameter of a URL. */
export function readLastEventId(header: string | string[] | null | undefined, url: string): string {
  const h = Array.isArray(header) ? header[0] : header
  if (typeof h === 'string' && h !== '') return h
  const q = url.indexOf('?')
  if (q === -1 || url.indexOf('lastEventId=', q) === -1) return ''
  try {
    return new URLSearchParams(url.slice(q + 1)).get('lastEventId') ?? ''
  } catch {
    return ''
  }
}
