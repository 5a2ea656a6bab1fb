/**
 * What an event stream is opened with: its options and their defaults, the
 * transport interface under it, and the per-settings config streams share.
 */
import { encodeComment } from '../protocol/encoder.js'
import { SluiceError } from '../protocol/errors.js'
import type { CloseReason } from './close.js'

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
  /**
   * Heartbeat interval in ms (default 5 000: under Bun.serve's 10 s default
   * `idleTimeout`, checked at a 4 s granularity, and far under the 60 s idle
   * timeout of nginx and most load balancers); 0 disables.
   */
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
  /**
   * Web `Response` only: watch `request.signal` for the client leaving
   * (default true). Workers need it (with the `enable_request_signal`
   * compatibility flag: they never cancel the body). Node, Bun and Deno cancel
   * the body, so `false` loses nothing there and spares Deno's warning about
   * reading the signal (docs/runtimes.md).
   */
  requestSignal?: boolean
  /**
   * node:http only: write events straight to the socket, framed once for all
   * subscribers, when the response's internals check out (default true; the
   * environment variable `SLUICE_FAST_PATH=0` turns it off for the process).
   */
  fastPath?: boolean
}

export const DEFAULT_HEARTBEAT_MS = 5_000
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

const utf8 = new TextEncoder()
const DEFAULT_HEARTBEAT_BYTES = utf8.encode(encodeComment(''))

/** Settings shared by every stream opened with the same values (most streams: the defaults). */
export interface Config {
  readonly heartbeatMs: number
  readonly heartbeatBytes: Uint8Array
  readonly maxBuffered: number
}

/** Configs without a custom heartbeat frame, by heartbeat and cap: one object for all streams alike. */
const configs = new Map<string, Config>()

export function configFor(
  heartbeatMs: number,
  frame: string | undefined,
  maxBuffered: number,
): Config {
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

export function checkMs(name: string, value: number): void {
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
