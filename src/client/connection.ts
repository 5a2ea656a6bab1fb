/**
 * The one connection engine behind fetchEventSource, events() and EventSource:
 * fetch, validate, parse (with the protocol parser), watch for stalls, and
 * reconnect under the retry policy. Runs wherever `fetch` and Web streams run;
 * `document` is used only when it exists (visibility handling).
 */
import { SluiceError } from '../protocol/errors.js'
import { createParser } from '../protocol/parser.js'
import type { EventSourceMessage } from '../protocol/types.js'
import { POSITION_EVENT, RESUME_URL_HEADER } from '../protocol/headers.js'
import { RetryPolicy, isFinalError, parseRetryAfter, type RetryOptions } from './retry.js'

export const EventStreamContentType = 'text/event-stream'
export { RESUME_URL_HEADER }

/** Headers as `fetch` takes them, or a function called before every attempt (e.g. for a fresh token). */
export type HeadersOption = HeadersInit | (() => HeadersInit | Promise<HeadersInit>)
/** A body as `fetch` takes it (sent again on every attempt), or a function that makes one per attempt. */
export type BodyOption = BodyInit | null | (() => BodyInit | null | Promise<BodyInit | null>)

export interface RetryInfo {
  /** Milliseconds until the next attempt. */
  delay: number
  /** Consecutive attempts since the last successful open (1 for the first retry). */
  attempt: number
  /** What ended the previous attempt; undefined after a clean end. */
  error?: unknown
  /** The URL the next attempt requests (the resume URL once the server named one). */
  url: string
}

/**
 * Every option of `@microsoft/fetch-event-source` with the same meaning, plus
 * sluice's own (retry policy, watchdog, size bound, resume).
 */
export interface FetchEventSourceInit extends Omit<RequestInit, 'headers' | 'body'> {
  headers?: HeadersOption
  body?: BodyOption
  /**
   * Called with the response before it is read. Throw to reject it (it then
   * goes to `onerror`). Without it, sluice checks the status and content type;
   * with it, sluice still checks them after it returns.
   */
  onopen?: (response: Response) => void | Promise<void>
  /** Called for every event (never for comments or id-only blocks). Throwing goes to `onerror`. */
  onmessage?: (ev: EventSourceMessage) => void
  /** Called when the response body ends normally. Throwing goes to `onerror` (and so retries). */
  onclose?: () => void
  /**
   * Called for every failed attempt. Return a number to retry after that many
   * ms, nothing to let the policy decide (retry, or stop on a final error), or
   * throw to stop: the returned promise rejects with what was thrown.
   */
  onerror?: (err: any) => number | null | undefined | void
  /** Keep the stream open while the page is hidden. Only meaningful where `document` exists. */
  openWhenHidden?: boolean
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch
  /** The reconnection policy (default: exponential backoff with jitter from the server's `retry:` or 1 s). */
  retry?: RetryOptions
  /** Treat the connection as dead when nothing (not even a comment) arrives for this long (ms). Off by default. */
  heartbeatTimeout?: number
  /** Bound on one event's size, passed to the parser. Oversized events are skipped and reported to `onparseerror`. */
  maxEventSize?: number
  /** The `Last-Event-ID` to send on the first request (e.g. to resume a run after a page reload). */
  lastEventId?: string
  /**
   * Reconnect after a normal end of the body. Default: yes for GET (as
   * EventSource does) and for any stream whose server sent `Sluice-Resume-Url`;
   * no for other methods, where reconnecting would send the request again.
   */
  reconnectOnEnd?: boolean
  /** Called before each wait for a reconnection. */
  onretry?: (info: RetryInfo) => void
  /** Called once when `signal` aborts the stream (the returned promise then resolves). */
  onabort?: (reason: unknown) => void
  /** Called when the parser skips an event (`EVENT_TOO_LARGE`). The stream goes on. */
  onparseerror?: (err: SluiceError) => void
  /**
   * Share one connection among this origin's tabs that open the same stream
   * (browsers with Web Locks and BroadcastChannel; elsewhere ignored). `true`
   * shares GET streams, keyed by method and URL; a string is the key, and
   * shares a stream of any method (a POST is shared only so). docs/frontend.md.
   */
  share?: boolean | string
}

/** Hooks for the layers built on the engine (events(), EventSource); not public. */
export interface EngineHooks {
  /** WHATWG status rules: only 200 is accepted, and every refusal is final. */
  spec?: boolean
  /** Called after the response is accepted. */
  opened?: (response: Response) => void
  /** Called after each chunk; a returned promise pauses reading (backpressure). */
  afterChunk?: () => Promise<void> | undefined
  /** Called after a chunk that changed the last event ID (events and id-only blocks). */
  lastId?: (id: string) => void
}

const SNIPPET_BYTES = 512

export function requestUrl(input: RequestInfo | URL): string {
  const raw =
    typeof input === 'string' ? input : input instanceof URL ? input.href : (input as Request).url
  const base = (globalThis as { location?: { href?: string } }).location?.href
  try {
    return new URL(raw, base).href
  } catch {
    return raw
  }
}

export async function runEventStream(
  input: RequestInfo | URL,
  init: FetchEventSourceInit = {},
  hooks: EngineHooks = {},
): Promise<void> {
  const {
    signal,
    headers: headersOption,
    body: bodyOption,
    onopen,
    onmessage,
    onclose,
    onerror,
    openWhenHidden,
    fetch: fetchOption,
    retry,
    heartbeatTimeout,
    maxEventSize,
    lastEventId,
    reconnectOnEnd,
    onretry,
    onabort,
    onparseerror,
    share: _share,
    ...rest
  } = init
  const doFetch: typeof fetch = fetchOption ?? ((i, r) => globalThis.fetch(i, r))
  const policy = new RetryPolicy(retry)
  const method = (rest.method ?? 'GET').toUpperCase()
  const originalUrl = requestUrl(input)
  let resumeUrl: string | undefined
  /** An event arrived on the current connection. */
  let delivered = false
  /** The last event ID reported to `hooks.lastId`. */
  let seenId: string | undefined

  const parser = createParser({
    onEvent: (ev) => {
      // An event proves the connection works: the next failure starts from the base again.
      if (!delivered) {
        delivered = true
        policy.succeeded()
      }
      // The hub's position: its id is recorded (the parser did), the event is not the app's.
      if (ev.event === POSITION_EVENT) return
      onmessage?.(ev)
    },
    onRetry: (ms) => policy.setServerRetry(ms),
    onError: (err) => onparseerror?.(err),
    maxEventSize,
  })
  if (lastEventId !== undefined) parser.lastEventId = lastEventId
  else if (headersOption && typeof headersOption !== 'function') {
    parser.lastEventId = new Headers(headersOption).get('last-event-id') ?? ''
  }

  // Visibility (browsers only): FES behaviour, but only where `document` exists.
  const doc = (globalThis as { document?: any }).document
  const watchVisibility = !openWhenHidden && doc && typeof doc.addEventListener === 'function'
  let current: AbortController | undefined
  let hiddenAbort = false
  let wake: (() => void) | undefined
  const onVisibility = () => {
    if (doc.hidden) {
      if (current && !current.signal.aborted) {
        hiddenAbort = true
        current.abort()
      }
    } else {
      wake?.()
    }
  }
  if (watchVisibility) doc.addEventListener('visibilitychange', onVisibility)
  const onUserAbort = () => {
    current?.abort(signal?.reason)
    wake?.()
  }
  signal?.addEventListener('abort', onUserAbort)

  /** Wait `ms`, or until abort (or, for a hidden page, until it is visible again). */
  const pause = (ms: number, untilVisible = false) =>
    new Promise<void>((resolve) => {
      const t = untilVisible ? undefined : setTimeout(done, ms)
      function done() {
        if (t !== undefined) clearTimeout(t)
        wake = undefined
        resolve()
      }
      wake = done
      if (signal?.aborted) done()
    })

  const aborted = () => {
    onabort?.(signal?.reason)
  }

  try {
    for (;;) {
      if (signal?.aborted) return aborted()
      if (watchVisibility && doc.hidden) {
        await pause(0, true)
        continue
      }
      const ctrl = new AbortController()
      current = ctrl
      let stalled = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const arm = () => {
        if (!heartbeatTimeout) return
        if (timer !== undefined) clearTimeout(timer)
        timer = setTimeout(() => {
          stalled = true
          ctrl.abort()
        }, heartbeatTimeout)
      }
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
      let url = resumeUrl ?? originalUrl
      let openedAt = 0
      try {
        const headers = new Headers(
          typeof headersOption === 'function' ? await headersOption() : headersOption,
        )
        if (!headers.has('accept')) headers.set('accept', EventStreamContentType)
        if (parser.lastEventId !== '') headers.set('last-event-id', headerValue(parser.lastEventId))
        else headers.delete('last-event-id')
        if (hooks.spec && !headers.has('cache-control')) headers.set('cache-control', 'no-cache')
        const req: RequestInit = { ...rest, headers, signal: ctrl.signal }
        if (hooks.spec && rest.cache === undefined) req.cache = 'no-store'
        if (resumeUrl !== undefined) {
          req.method = 'GET'
          headers.delete('content-type')
        } else {
          const body = typeof bodyOption === 'function' ? await bodyOption() : bodyOption
          if (body !== undefined) req.body = body
        }
        arm()
        const response = await doFetch(resumeUrl !== undefined ? resumeUrl : input, req)
        const named = response.headers.get(RESUME_URL_HEADER)
        if (named) {
          resumeUrl = new URL(named, response.url || url).href
          url = resumeUrl
        }
        if (response.status === 204 && !hooks.spec) {
          // The server's way of saying "stop reconnecting" (WHATWG 9.2.3).
          await response.body?.cancel().catch(() => {})
          return
        }
        if (onopen) await onopen(response)
        await validate(response, hooks.spec === true)
        // The backoff is reset by the first event, or by a connection that stayed
        // up for a whole maxDelay; not by the open alone, so a server that
        // accepts and drops at once is not hammered at the base interval.
        delivered = false
        openedAt = Date.now()
        hooks.opened?.(response)
        parser.reset()
        if (response.body) {
          reader = response.body.getReader()
          for (;;) {
            const { done, value } = await reader.read()
            if (done) break
            arm()
            parser.feed(value)
            if (hooks.lastId && parser.lastEventId !== seenId)
              hooks.lastId((seenId = parser.lastEventId))
            if (signal?.aborted) break // a callback aborted: no onclose, no reconnection
            const wait = hooks.afterChunk?.()
            if (wait) {
              // Paused by our own consumer, not by the server: the watchdog waits too.
              if (timer !== undefined) clearTimeout(timer)
              await wait
              arm()
            }
          }
          reader = undefined
        }
        if (timer !== undefined) clearTimeout(timer)
        if (signal?.aborted) {
          if (reader) reader.cancel().catch(() => {})
          return aborted()
        }
        parser.end()
        if (!delivered && Date.now() - openedAt >= policy.options.maxDelay) policy.succeeded()
        onclose?.()
        if (signal?.aborted) return aborted()
        const again =
          hooks.spec || (reconnectOnEnd ?? (resumeUrl !== undefined || method === 'GET'))
        if (!again) {
          return
        }
        const delay = policy.next()
        if (delay instanceof SluiceError) throw delay
        onretry?.({ delay, attempt: policy.attempt, url: resumeUrl ?? originalUrl })
        await pause(delay)
      } catch (caught) {
        if (timer !== undefined) clearTimeout(timer)
        if (reader) reader.cancel().catch(() => {})
        if (signal?.aborted) return aborted()
        if (hiddenAbort) {
          hiddenAbort = false
          continue
        }
        if (openedAt && !delivered && Date.now() - openedAt >= policy.options.maxDelay) {
          policy.succeeded()
        }
        const err = stalled
          ? new SluiceError(
              'TIMEOUT',
              `Nothing arrived for ${heartbeatTimeout} ms (heartbeatTimeout): the connection is treated as dead and reestablished.`,
              { heartbeatTimeout, url },
            )
          : caught
        if (isSluiceExhausted(err)) throw err
        const chosen = onerror?.(err) // throwing here rejects the promise (FES contract)
        // The guide's pattern: onerror aborts the controller. FES still scheduled
        // another request after that; sluice does not.
        if (signal?.aborted) return aborted()
        let delay: number
        if (typeof chosen === 'number') {
          policy.attempt++
          delay = chosen
        } else {
          if (isFinalError(err)) throw err
          const next = policy.next(
            err instanceof SluiceError ? (err.details.retryAfter as number | undefined) : undefined,
          )
          if (next instanceof SluiceError) throw withCause(next, err)
          delay = next
        }
        onretry?.({ delay, attempt: policy.attempt, error: err, url: resumeUrl ?? originalUrl })
        await pause(delay)
      } finally {
        // Every way out of an attempt (a 204's return included) disarms the
        // watchdog, or its timer would keep the process alive for heartbeatTimeout.
        if (timer !== undefined) clearTimeout(timer)
        current = undefined
      }
    }
  } finally {
    signal?.removeEventListener('abort', onUserAbort)
    if (watchVisibility) doc.removeEventListener('visibilitychange', onVisibility)
  }
}

/**
 * A header value is a byte string; an id may hold any Unicode. Browsers send
 * the id's UTF-8 bytes (WPT format-field-id-2), and so does this: each byte
 * becomes one char, which fetch writes as that byte.
 */
function headerValue(id: string): string {
  if (/^[\x00-\x7f]*$/.test(id)) return id
  let out = ''
  for (const b of new TextEncoder().encode(id)) out += String.fromCharCode(b)
  return out
}

function isSluiceExhausted(err: unknown): boolean {
  return err instanceof SluiceError && err.code === 'RETRIES_EXHAUSTED'
}

/** An error's message with its own cause's (fetch says only "fetch failed"; the cause says "connect ECONNREFUSED ..."). */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause)
  const inner = cause.cause
  return inner instanceof Error && inner.message && !cause.message.includes(inner.message)
    ? `${cause.message} (${inner.message})`
    : cause.message
}

function withCause(err: SluiceError, cause: unknown): SluiceError {
  return new SluiceError(
    err.code,
    err.message + ` Last error: ${describeCause(cause)}`,
    err.details,
    { cause },
  )
}

/** The MIME type's essence (`text/event-stream; charset=utf-8` -> `text/event-stream`). */
function essence(contentType: string | null): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase()
}

/**
 * Status and content type. A refusal is a `SluiceError` with the status and a
 * snippet of the body; `details.final` says whether the default policy stops.
 */
async function validate(response: Response, spec: boolean): Promise<void> {
  const { status } = response
  const ok = spec ? status === 200 : response.ok
  if (!ok) {
    const retryable = !spec && (status === 408 || status === 429 || status >= 500)
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'))
    const body = await snippet(response)
    throw new SluiceError(
      'BAD_STATUS',
      `The server answered ${status}${response.statusText ? ' ' + response.statusText : ''} instead of an event stream` +
        (retryable ? '; retrying.' : '; not retrying (fix the request or the URL).') +
        (body ? ` Body: ${body}` : ''),
      { status, url: response.url, body, retryAfter, final: !retryable },
    )
  }
  const type = response.headers.get('content-type')
  if (essence(type) !== EventStreamContentType) {
    const body = await snippet(response)
    throw new SluiceError(
      'BAD_CONTENT_TYPE',
      `Expected content-type ${EventStreamContentType}, got ${type ?? 'none'} (status ${status}); not retrying. ` +
        'Is the URL right, and does the server (or a proxy in front of it) answer with an event stream?' +
        (body ? ` Body: ${body}` : ''),
      { status, contentType: type, url: response.url, body, final: true },
    )
  }
}

/** Up to 512 bytes of the body, for error messages; never waits long. */
async function snippet(response: Response): Promise<string> {
  if (!response.body || response.bodyUsed) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 500)))
  try {
    while (size < SNIPPET_BYTES) {
      const r = await Promise.race([reader.read(), timeout])
      if (r === 'timeout' || r.done) break
      chunks.push(r.value)
      size += r.value.length
    }
  } catch {
    // a body that fails is no reason to hide the status
  } finally {
    clearTimeout(timer)
    reader.cancel().catch(() => {})
  }
  const all = new Uint8Array(size)
  let o = 0
  for (const c of chunks) {
    all.set(c, o)
    o += c.length
  }
  const text = new TextDecoder().decode(all.subarray(0, SNIPPET_BYTES))
  return text.length > 200 ? text.slice(0, 200) + '…' : text
}
