/**
 * Framework-free state machines behind `sluice/vue`, `sluice/react` and the
 * demo page: one event stream (`StreamController`) and one chat run
 * (`ChatController`). Each holds a plain snapshot and calls `onChange` after
 * every change; the bindings only mirror the snapshot into Vue refs or React
 * state. Underneath is sluice's own `fetchEventSource`.
 */
import type { EventSourceMessage } from '../protocol/types.js'
import { fetchEventSource, type FetchEventSourceInit } from '../client/fetch-event-source.js'

/** What a stream is doing, for a UI. */
export type StreamStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' | 'error'

export interface EventStreamOptions<T = string> extends FetchEventSourceInit {
  /** Connect at once (default true); otherwise call `open()`/`reconnect()`. */
  immediate?: boolean
  /** Turn an event into `data` (e.g. `(e) => JSON.parse(e.data)`). Default: the data string. */
  parse?: (event: EventSourceMessage) => T
  /** Keep at most this many recent events in `events` (default 100). Memory stays bounded. */
  maxEvents?: number
}

export interface EventStreamState<T = string> {
  /** The latest event's data (after `parse`). */
  data: T | undefined
  /** The most recent events, oldest first (at most `maxEvents`). */
  events: EventSourceMessage[]
  status: StreamStatus
  /** What ended the last attempt (kept while reconnecting; cleared on open). */
  error: unknown
  /** The last event ID in force; sent as `Last-Event-ID` on reconnection. */
  lastEventId: string
  /** Reconnection attempts since this stream was opened. */
  retries: number
  /** Events received since this stream was opened. */
  received: number
}

export function initialStreamState<T>(): EventStreamState<T> {
  return {
    data: undefined,
    events: [],
    status: 'idle',
    error: undefined,
    lastEventId: '',
    retries: 0,
    received: 0,
  }
}

/**
 * One event stream with reconnection. `close()` stops it for good (until
 * `open()`/`reconnect()`); `reconnect()` starts over from `lastEventId`.
 */
export class StreamController<T = string> {
  state: EventStreamState<T> = initialStreamState<T>()
  private ctrl: AbortController | undefined

  constructor(
    private url: string | URL,
    private options: EventStreamOptions<T> = {},
    private onChange: (state: EventStreamState<T>) => void = () => {},
  ) {
    if (options.immediate ?? true) this.open()
  }

  private set(patch: Partial<EventStreamState<T>>): void {
    this.state = { ...this.state, ...patch }
    this.onChange(this.state)
  }

  /** Point at another URL (takes effect on the next open). */
  setUrl(url: string | URL): void {
    this.url = url
  }

  /** Replace the options (callbacks included) used from the next event on. */
  setOptions(options: EventStreamOptions<T>): void {
    this.options = options
  }

  open(): void {
    this.ctrl?.abort()
    const ctrl = new AbortController()
    this.ctrl = ctrl
    const {
      parse,
      maxEvents = 100,
      immediate: _immediate,
      signal,
      onopen,
      onmessage,
      onretry,
      onerror,
      ...rest
    } = this.options
    signal?.addEventListener('abort', () => this.close(), { once: true })
    const live = () => this.ctrl === ctrl
    this.set({ status: 'connecting', error: undefined, retries: 0, received: 0 })
    fetchEventSource(this.url, {
      ...rest,
      lastEventId: this.state.lastEventId || rest.lastEventId,
      signal: ctrl.signal,
      onopen: async (res) => {
        await onopen?.(res)
        if (live() && res.ok) this.set({ status: 'open', error: undefined })
      },
      onmessage: (ev) => {
        if (!live()) return
        const events =
          maxEvents > 0 ? [...this.state.events.slice(-(maxEvents - 1)), ev] : this.state.events
        const data = parse ? parse(ev) : (ev.data as unknown as T)
        this.set({ data, events, lastEventId: ev.id, received: this.state.received + 1 })
        onmessage?.(ev)
      },
      onretry: (info) => {
        if (live())
          this.set({
            status: 'reconnecting',
            retries: this.state.retries + 1,
            error: info.error ?? this.state.error,
          })
        onretry?.(info)
      },
      onerror: (err) => {
        if (live()) this.set({ error: err })
        return onerror?.(err)
      },
    }).then(
      () => {
        if (live() && this.state.status !== 'closed') this.set({ status: 'closed' })
      },
      (err) => {
        if (live()) this.set({ status: 'error', error: err })
      },
    )
  }

  close(): void {
    const ctrl = this.ctrl
    this.ctrl = undefined
    ctrl?.abort()
    if (ctrl && this.state.status !== 'error') this.set({ status: 'closed' })
  }

  /** Close and open again; the server gets `Last-Event-ID` and can replay what was missed. */
  reconnect(): void {
    this.open()
  }
}

/** What a chat run is doing. */
export type ChatStatus = 'idle' | 'streaming' | 'reconnecting' | 'done' | 'stopped' | 'error'

export interface ChatState {
  /** The answer so far. */
  text: string
  /** The message that started the run. */
  message: string
  status: ChatStatus
  error: unknown
  /** Where the run can be resumed (the `Sluice-Resume-Url` response header), when the server names one. */
  resumeUrl: string | undefined
  lastEventId: string
  retries: number
  /** Tokens received in this run (across reconnections). */
  tokens: number
}

export interface ChatOptions {
  /** Where to POST (default `/chat`). */
  url?: string
  /** The JSON body for a message (default `{ message }`). */
  body?: (message: string) => unknown
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>
  /**
   * Remember the run in `sessionStorage` under this key, so a reload can
   * `resume()` it (default `'sluice-chat'`; `false` to turn off).
   */
  persist?: string | false
  /** The text an event adds to the answer; `undefined` adds nothing. Default: see `defaultToken`. */
  token?: (event: EventSourceMessage) => string | undefined
  /** Whether an event marks the end of the answer. Default: see `defaultIsEnd`. */
  isEnd?: (event: EventSourceMessage) => boolean
  /** Passed through to fetchEventSource (retry policy, fetch, heartbeatTimeout...). */
  stream?: Omit<FetchEventSourceInit, 'signal' | 'onmessage' | 'onopen' | 'method' | 'body'>
}

const END_EVENTS = new Set(['done', 'end', 'complete', 'close'])

/** An event named `done`/`end`/`complete`/`close`, or the guide's envelope end `{"code":-200}`. */
export function defaultIsEnd(ev: EventSourceMessage): boolean {
  if (END_EVENTS.has(ev.event)) return true
  return ev.data.startsWith('{"code":-200')
}

/**
 * `token` events add their data as is. Unnamed, `message` or `delta` events
 * add their data, or for JSON data its `token`/`text`/`delta`/`content` string, or for the guide's
 * envelope `{"code":200,"data":...}` its `data`.
 */
export function defaultToken(ev: EventSourceMessage): string | undefined {
  // sluice's own runs: `event: token`, the data is the text.
  if (ev.event === 'token') return ev.data
  if (ev.event !== '' && ev.event !== 'message' && ev.event !== 'delta') return undefined
  const d = ev.data
  if (d.startsWith('{')) {
    try {
      const v = JSON.parse(d) as Record<string, unknown>
      for (const k of ['token', 'text', 'delta', 'content'])
        if (typeof v[k] === 'string') return v[k] as string
      if (v.code === 200 && typeof v.data === 'string') return v.data
      if (v.code !== undefined) return undefined
    } catch {
      // not JSON: the data is the token
    }
  }
  return d
}

/** The `reason` of a run's `done` event (`complete`, `stopped`, `error`, `lost`), if any. */
function endReason(ev: EventSourceMessage): string | undefined {
  if (ev.event !== 'done' || !ev.data.startsWith('{')) return undefined
  try {
    const reason = (JSON.parse(ev.data) as { reason?: unknown }).reason
    return typeof reason === 'string' ? reason : undefined
  } catch {
    return undefined
  }
}

function runResumeUrl(data: string, base: string): string | undefined {
  try {
    const v = JSON.parse(data) as { resumeUrl?: unknown }
    if (typeof v.resumeUrl !== 'string') return undefined
    return new URL(v.resumeUrl, new URL(base, globalThis.location?.href)).href
  } catch {
    return undefined
  }
}

/** An `event: error` as an Error with the server's code and message. */
function serverError(data: string): Error & { code?: string } {
  try {
    const v = JSON.parse(data) as { error?: string; message?: string }
    return Object.assign(new Error(v.message ?? data), { code: v.error })
  } catch {
    return new Error(data)
  }
}

interface Persisted {
  resumeUrl: string
  lastEventId: string
  text: string
  message: string
  tokens: number
}

function storage(): Storage | undefined {
  try {
    return (globalThis as { sessionStorage?: Storage }).sessionStorage
  } catch {
    return undefined
  }
}

/**
 * One chat run: `send()` posts a message and streams the answer in; `stop()`
 * ends it (client and server); `resume()` continues a run after a dropped
 * connection or a page reload, from the last event ID it saw.
 */
export class ChatController {
  state: ChatState = {
    text: '',
    message: '',
    status: 'idle',
    error: undefined,
    resumeUrl: undefined,
    lastEventId: '',
    retries: 0,
    tokens: 0,
  }
  private ctrl: AbortController | undefined

  constructor(
    private options: ChatOptions = {},
    private onChange: (state: ChatState) => void = () => {},
  ) {}

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch }
    this.onChange(this.state)
    this.save()
  }

  private save(): void {
    const key = this.options.persist ?? 'sluice-chat'
    const s = storage()
    if (key === false || !s) return
    const { status, resumeUrl, lastEventId, text, message, tokens } = this.state
    if ((status === 'streaming' || status === 'reconnecting') && resumeUrl) {
      const p: Persisted = { resumeUrl, lastEventId, text, message, tokens }
      s.setItem(key, JSON.stringify(p))
    } else if (status !== 'idle') s.removeItem(key)
  }

  /** A run left unfinished by a previous page (same tab), if any. */
  pending(): Persisted | undefined {
    const key = this.options.persist ?? 'sluice-chat'
    const raw = key === false ? null : (storage()?.getItem(key) ?? null)
    if (!raw) return undefined
    try {
      return JSON.parse(raw) as Persisted
    } catch {
      return undefined
    }
  }

  /** Post a message and stream the answer (stopping any answer in progress first). */
  send(message: string): Promise<void> {
    this.ctrl?.abort()
    this.set({
      text: '',
      message,
      status: 'streaming',
      error: undefined,
      resumeUrl: undefined,
      lastEventId: '',
      retries: 0,
      tokens: 0,
    })
    const body = this.options.body ? this.options.body(message) : { message }
    return this.run(this.options.url ?? '/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.options.headers },
      body: JSON.stringify(body),
    })
  }

  /**
   * Continue a run: the one in progress (after a dropped connection), or the
   * one a previous page left in sessionStorage. Returns false when there is none.
   */
  resume(): boolean {
    const p = this.state.resumeUrl
      ? {
          resumeUrl: this.state.resumeUrl,
          lastEventId: this.state.lastEventId,
          text: this.state.text,
          message: this.state.message,
          tokens: this.state.tokens,
        }
      : this.pending()
    if (!p) return false
    this.ctrl?.abort()
    this.set({ ...p, status: 'reconnecting', error: undefined })
    void this.run(p.resumeUrl, {
      method: 'GET',
      headers: { ...this.options.headers },
      lastEventId: p.lastEventId,
    })
    return true
  }

  /** Stop the answer: close the stream and tell the server to stop the run. */
  async stop(): Promise<void> {
    const ctrl = this.ctrl
    this.ctrl = undefined
    ctrl?.abort()
    const url = this.state.resumeUrl
    if (this.state.status === 'streaming' || this.state.status === 'reconnecting')
      this.set({ status: 'stopped' })
    if (url) {
      await fetch(url, { method: 'DELETE', headers: { ...this.options.headers } }).catch(() => {})
    }
  }

  /** Close the stream without stopping the run (e.g. when a component unmounts); `resume()` picks it up. */
  detach(): void {
    const ctrl = this.ctrl
    this.ctrl = undefined
    ctrl?.abort()
  }

  private run(url: string, init: FetchEventSourceInit): Promise<void> {
    const ctrl = new AbortController()
    this.ctrl = ctrl
    const live = () => this.ctrl === ctrl
    const token = this.options.token ?? defaultToken
    const isEnd = this.options.isEnd ?? defaultIsEnd
    const extra = this.options.stream ?? {}
    return fetchEventSource(url, {
      ...extra,
      ...init,
      openWhenHidden: extra.openWhenHidden ?? true,
      signal: ctrl.signal,
      onopen: async (res) => {
        if (!live()) return
        const named = res.headers.get('sluice-resume-url')
        const resumeUrl = named
          ? new URL(named, res.url || globalThis.location?.href).href
          : undefined
        this.set({ status: 'streaming', ...(resumeUrl ? { resumeUrl } : {}) })
      },
      onmessage: (ev) => {
        if (!live()) return
        if (ev.event === 'error') {
          // The server ended the answer with an error event (`{"error","message"}`).
          this.ctrl = undefined
          ctrl.abort()
          this.set({ status: 'error', error: serverError(ev.data), lastEventId: ev.id })
          return
        }
        if (ev.event === 'run') {
          // A sluice run announces itself first: `{"runId","resumeUrl"}`. Taken
          // from here too, for when the response header is not exposed (CORS).
          const resumeUrl = runResumeUrl(ev.data, url)
          this.set({ lastEventId: ev.id, ...(resumeUrl ? { resumeUrl } : {}) })
          return
        }
        if (isEnd(ev)) {
          this.ctrl = undefined
          ctrl.abort()
          const reason = endReason(ev)
          if (reason === 'stopped') this.set({ status: 'stopped', lastEventId: ev.id })
          else if (reason === 'lost')
            this.set({
              status: 'error',
              lastEventId: ev.id,
              error: new Error('The run was lost (the server producing it went away).'),
            })
          else this.set({ status: 'done', lastEventId: ev.id })
          return
        }
        const t = token(ev)
        this.set({
          text: t === undefined ? this.state.text : this.state.text + t,
          tokens: t === undefined ? this.state.tokens : this.state.tokens + 1,
          lastEventId: ev.id,
        })
      },
      onretry: (info) => {
        if (live()) this.set({ status: 'reconnecting', retries: this.state.retries + 1 })
        extra.onretry?.(info)
      },
      onerror: (err) => {
        if (live()) this.set({ error: err })
        return extra.onerror?.(err)
      },
    }).then(
      () => {
        // The body ended without an end event and was not reconnected: done.
        if (live()) {
          this.ctrl = undefined
          this.set({ status: 'done' })
        }
      },
      (err) => {
        if (live()) {
          this.ctrl = undefined
          this.set({ status: 'error', error: err })
        }
      },
    )
  }
}
