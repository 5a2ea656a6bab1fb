/**
 * The emitter over a Web `Response` (Hono, Next route handlers, Bun, Deno,
 * Workers). The body is a byte `ReadableStream` whose queue is the buffer:
 * `desiredSize` is the backpressure signal, `pull()` the drain, `cancel()`
 * (or the request's `signal`) the client leaving.
 */
import {
  type CloseReason,
  type CompletionTarget,
  EventStream,
  eventStreamHeaders,
  readLastEventId,
  type EventStreamOptions,
  type Sink,
} from './event-stream.js'
import { runProducer } from './producer.js'

/** High-water mark of the body queue, like a node socket's default. */
const BODY_HIGH_WATER_MARK = 16 * 1024
const BODY_STRATEGY: QueuingStrategy<Uint8Array> = {
  highWaterMark: BODY_HIGH_WATER_MARK,
  size: (chunk) => chunk.byteLength,
}

/**
 * The sink, and also the body's underlying source (`start`/`pull`/`cancel`),
 * the request signal's abort listener (`handleEvent`) and the stream's
 * completion target: one object per stream instead of five closures.
 */
class WebSink
  implements Sink, UnderlyingDefaultSource<Uint8Array>, EventListenerObject, CompletionTarget
{
  controller!: ReadableStreamDefaultController<Uint8Array>
  /** Resolves the pending `pull()`: the stream is waiting for data, not spinning. */
  wake: (() => void) | undefined = undefined
  done = false
  /** The request's signal, while it is watched. */
  signal: AbortSignal | undefined = undefined

  constructor(readonly stream: EventStream) {}

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller
  }

  pull(): Promise<void> | undefined {
    this.stream.drained()
    if (this.done) return
    // Resolve on the next write, so the stream does not call pull() in a loop.
    return new Promise<void>((resolve) => (this.wake = resolve))
  }

  cancel(reason?: unknown): void {
    this.done = true
    this.stream.gone(reason)
  }

  /** The request's signal aborted: the client left. */
  handleEvent(): void {
    this.stream.gone(this.signal?.reason)
  }

  streamClosed(): void {
    const signal = this.signal
    this.signal = undefined
    signal?.removeEventListener('abort', this)
  }

  write(chunk: Uint8Array): boolean {
    if (this.done) return true
    this.controller.enqueue(chunk)
    const wake = this.wake
    this.wake = undefined
    wake?.()
    return (this.controller.desiredSize ?? 0) > 0
  }

  buffered(): number {
    if (this.done) return 0
    return Math.max(0, BODY_HIGH_WATER_MARK - (this.controller.desiredSize ?? 0))
  }

  end(): void {
    if (this.done) return
    this.done = true
    this.wake?.()
    this.controller.close()
  }

  abort(reason: CloseReason, error?: unknown): void {
    if (this.done) return
    this.done = true
    this.wake?.()
    try {
      // The client is gone: end quietly (the runtime is tearing the body down).
      // A slow consumer: error the body so the runtime drops the connection and the queue.
      if (reason === 'disconnect') this.controller.close()
      else this.controller.error(error ?? new Error(`event stream ended: ${reason}`))
    } catch {
      // Already cancelled by the reader.
    }
  }
}

/** A stream and the `Response` that carries it. */
export interface WebEventStream {
  stream: EventStream
  response: Response
}

/**
 * Create an event stream and its `Response`. Return `response` from your
 * handler; send on `stream` (before or after returning: sends are kept in order).
 */
export function createWebEventStream(
  request: Request | null | undefined,
  options: EventStreamOptions = {},
): WebEventStream {
  const lastEventId = request
    ? readLastEventId(request.headers.get('last-event-id'), request.url)
    : ''
  const stream = new EventStream(options, lastEventId)
  const sink = new WebSink(stream)
  const body = new ReadableStream<Uint8Array>(sink, BODY_STRATEGY)
  stream.attach(sink)
  const signal = options.requestSignal === false ? undefined : request?.signal
  if (signal) {
    if (signal.aborted) stream.gone(signal.reason)
    else {
      sink.signal = signal
      signal.addEventListener('abort', sink, { once: true })
      stream.addCompletion(sink)
    }
  }
  const headers = new Headers()
  // The runtime sets `Connection` (and must not get it on HTTP/2).
  for (const [k, v] of Object.entries(eventStreamHeaders(options.headers, false))) {
    if (Array.isArray(v)) for (const item of v) headers.append(k, item)
    else headers.set(k, String(v))
  }
  const response = new Response(body, { status: options.status ?? 200, headers })
  return { stream, response }
}

/**
 * A `Response` streaming what `producer` sends. The producer runs after the
 * response is created; a throw or rejection ends the stream with
 * `completeWithError`.
 *
 * ```ts
 * app.post('/chat', (c) => eventStreamResponse(c.req.raw, async (stream) => {
 *   for await (const token of model(stream.signal)) await stream.send({ event: 'token', data: token })
 *   stream.complete()
 * }))
 * ```
 */
export function eventStreamResponse(
  request: Request | null | undefined,
  producer: (stream: EventStream) => unknown,
  options: EventStreamOptions = {},
): Response {
  const { stream, response } = createWebEventStream(request, options)
  queueMicrotask(() => runProducer(stream, () => producer(stream)))
  return response
}
