/**
 * A WHATWG-compatible `EventSource` (HTML 9.2) built on the sluice engine, that
 * also takes a method, headers and a body. Spec rules: only a 200 with
 * `text/event-stream` opens; any other answer fails the connection (CLOSED,
 * one `error` event, no reconnection); a network error or a normal end
 * reconnects (CONNECTING, an `error` event, then a new request with
 * `Last-Event-ID`).
 */
import type { SluiceError } from '../protocol/errors.js'
import { type BodyOption, type HeadersOption, requestUrl } from './connection.js'
import { openStream } from './open.js'
import { isFinalError, type RetryOptions } from './retry.js'

export interface EventSourceInit {
  /** Send cookies cross-origin (`credentials: 'include'`), as the standard option does. */
  withCredentials?: boolean
  /** Default GET. */
  method?: string
  headers?: HeadersOption
  body?: BodyOption
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch
  /** Default: backoff from the server's `retry:`; `{ mode: 'spec' }` waits exactly the reconnection time. */
  retry?: RetryOptions
  heartbeatTimeout?: number
  maxEventSize?: number
  /** Initial `Last-Event-ID` (resume after a reload). */
  lastEventId?: string
  /** Called when an event is skipped for size. */
  onparseerror?: (err: SluiceError) => void
  /** One connection for all of this origin's tabs that open this stream (see fetchEventSource's `share`). */
  share?: boolean | string
}

type Handler<E extends Event> = ((this: EventSource, ev: E) => any) | null

export class EventSource extends EventTarget {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSED = 2
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSED = 2

  readonly url: string
  readonly withCredentials: boolean
  private state: 0 | 1 | 2 = 0
  private readonly ctrl = new AbortController()
  private readonly handlers: Record<string, Handler<Event> | undefined> = {}
  /** Why the connection failed, when it did (a `SluiceError` or a network error). */
  lastError: unknown = undefined

  constructor(url: string | URL, init: EventSourceInit = {}) {
    super()
    this.url = requestUrl(url)
    this.withCredentials = init.withCredentials === true
    const origin = safeOrigin(this.url)
    const {
      method,
      headers,
      body,
      fetch,
      retry,
      heartbeatTimeout,
      maxEventSize,
      lastEventId,
      onparseerror,
      share,
    } = init
    openStream(
      this.url,
      {
        method,
        headers,
        body,
        fetch,
        retry,
        heartbeatTimeout,
        maxEventSize,
        lastEventId,
        onparseerror,
        share,
        credentials: this.withCredentials ? 'include' : 'same-origin',
        mode: 'cors',
        openWhenHidden: true,
        signal: this.ctrl.signal,
        onmessage: (ev) => {
          if (this.state !== 1) return
          this.dispatchEvent(messageEvent(ev.event || 'message', ev.data, ev.id, origin))
        },
        onclose: () => this.reconnecting(),
        onerror: (err) => {
          this.lastError = err
          if (!isFinalError(err)) this.reconnecting()
        },
      },
      {
        spec: true,
        opened: () => {
          if (this.state === 2) return
          this.state = 1
          this.dispatchEvent(new Event('open'))
        },
      },
    ).then(
      () => {
        this.state = 2
      },
      (err) => {
        this.lastError = err
        if (this.state === 2) return
        this.state = 2
        this.dispatchEvent(new Event('error'))
      },
    )
  }

  get readyState(): 0 | 1 | 2 {
    return this.state
  }

  close(): void {
    this.state = 2
    this.ctrl.abort()
  }

  private reconnecting(): void {
    if (this.state === 2) return
    this.state = 0
    this.dispatchEvent(new Event('error'))
  }

  get onopen(): Handler<Event> {
    return this.handlers.open ?? null
  }
  set onopen(fn: Handler<Event>) {
    this.setHandler('open', fn)
  }
  get onmessage(): Handler<MessageEvent> {
    return (this.handlers.message as Handler<MessageEvent>) ?? null
  }
  set onmessage(fn: Handler<MessageEvent>) {
    this.setHandler('message', fn as Handler<Event>)
  }
  get onerror(): Handler<Event> {
    return this.handlers.error ?? null
  }
  set onerror(fn: Handler<Event>) {
    this.setHandler('error', fn)
  }

  // Typed like the DOM's EventSource: a named event's listener gets a MessageEvent
  // (`e.data`, `e.lastEventId`), `open` and `error` a plain Event.
  override addEventListener(
    type: 'open' | 'error',
    listener: ((this: EventSource, ev: Event) => unknown) | null,
    options?: boolean | AddEventListenerOptions,
  ): void
  override addEventListener(
    type: string,
    listener: ((this: EventSource, ev: MessageEvent) => unknown) | null,
    options?: boolean | AddEventListenerOptions,
  ): void
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void
  override addEventListener(
    type: string,
    listener:
      | EventListenerOrEventListenerObject
      | ((this: EventSource, ev: never) => unknown)
      | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options)
  }

  override removeEventListener(
    type: 'open' | 'error',
    listener: ((this: EventSource, ev: Event) => unknown) | null,
    options?: boolean | EventListenerOptions,
  ): void
  override removeEventListener(
    type: string,
    listener: ((this: EventSource, ev: MessageEvent) => unknown) | null,
    options?: boolean | EventListenerOptions,
  ): void
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void
  override removeEventListener(
    type: string,
    listener:
      | EventListenerOrEventListenerObject
      | ((this: EventSource, ev: never) => unknown)
      | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options)
  }

  private readonly wrappers: Record<string, EventListener | undefined> = {}
  private setHandler(type: string, fn: Handler<Event>): void {
    const old = this.wrappers[type]
    if (old) this.removeEventListener(type, old)
    this.handlers[type] = fn
    this.wrappers[type] = undefined
    // Where EventTarget itself calls `on<type>` (workerd), a listener would call it twice.
    if (typeof fn === 'function' && !targetCallsOnProperties()) {
      const wrapper: EventListener = (ev) => fn.call(this, ev)
      this.wrappers[type] = wrapper
      this.addEventListener(type, wrapper)
    }
  }
}

/**
 * A MessageEvent with `lastEventId` and `origin` set, also where the
 * runtime's constructor ignores them (workerd's keeps only `data`).
 */
function messageEvent(type: string, data: string, lastEventId: string, origin: string) {
  const ev = new MessageEvent(type, { data, lastEventId, origin })
  if (ev.lastEventId !== lastEventId) {
    Object.defineProperty(ev, 'lastEventId', { value: lastEventId, enumerable: true })
  }
  if (ev.origin !== origin) Object.defineProperty(ev, 'origin', { value: origin, enumerable: true })
  return ev
}

let callsOnProperties: boolean | undefined

/**
 * Whether this runtime's `dispatchEvent` calls a target's `on<type>` property
 * itself (workerd's does; the DOM's, Node's, Bun's and Deno's do not). Probed once.
 */
function targetCallsOnProperties(): boolean {
  if (callsOnProperties === undefined) {
    let called = false
    const probe = Object.assign(new EventTarget(), { onsluiceprobe: () => (called = true) })
    probe.dispatchEvent(new Event('sluiceprobe'))
    callsOnProperties = called
  }
  return callsOnProperties
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return ''
  }
}
