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
import { addHeartbeat, removeHeartbeat, type HeartbeatTarget } from './heartbeat.js'
import {
  type CloseReason,
  type Completion,
  complete,
  type Listener,
  safeCall,
  StreamClosedError,
} from './close.js'
import { defaultFormatError, toEventInit } from './message.js'
import {
  type Config,
  checkMs,
  configFor,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  type EventStreamOptions,
  type SendEvent,
  type Sink,
} from './options.js'

export {
  CLOSE_REASONS,
  type CloseReason,
  type CompletionTarget,
  StreamClosedError,
} from './close.js'
export { eventStreamHeaders, readLastEventId } from './headers.js'
export { defaultFormatError } from './message.js'
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  type EventStreamOptions,
  type SendEvent,
  type Sink,
} from './options.js'

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
    // The field line alone, without the blank line that would end a block: it joins the
    // first event's block (or the position), so no block of its own dispatches nothing
    // (httpx-sse and extended-eventsource surface such a block as an empty event).
    const retryBytes =
      options.retry === undefined
        ? undefined
        : utf8.encode(encodeEvent({ retry: options.retry }).slice(0, -1))
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
