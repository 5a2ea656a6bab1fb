/**
 * `share`: the tabs of one origin that open the same stream share one
 * connection. Every subscriber is a member. Each asks for a Web Lock named
 * after the stream; the one holding it (the leader) runs the connection and
 * posts what happens on a BroadcastChannel of the same name; the others wait
 * in the lock's queue (followers) and replay those posts into their own
 * callbacks. When the leader goes (its close(), its tab closed or reloaded),
 * the lock passes to the next member in the queue, which reconnects with the
 * last event ID it saw: every member sees every post, so that is the last ID
 * any tab saw. A handover is invisible: no error, no second open.
 *
 * Loaded only by src/client/open.ts, and only where sharing is possible.
 */
import { SluiceError } from '../protocol/errors.js'
import type { EventSourceMessage } from '../protocol/types.js'
import {
  type EngineHooks,
  type FetchEventSourceInit,
  type RetryInfo,
  runEventStream,
} from './connection.js'

/** What a follower needs to make the leader's response again. */
interface OpenInfo {
  status: number
  statusText: string
  headers: [string, string][]
}

/** An error as it crosses the channel (structured clone drops the class). */
interface WireError {
  name: string
  message: string
  code?: string
  details?: Record<string, unknown>
}

type Post =
  | { t: 'hello' }
  | { t: 'state'; open: OpenInfo | undefined; id: string }
  | { t: 'open'; open: OpenInfo }
  | { t: 'ev'; ev: EventSourceMessage }
  | { t: 'id'; id: string }
  | { t: 'close' }
  | { t: 'error'; error: WireError }
  | { t: 'retry'; info: Omit<RetryInfo, 'error'>; error?: WireError }
  | { t: 'parseerror'; error: WireError }
  | { t: 'end'; error?: WireError }

/**
 * How long a new leader waits before it connects, so that the last posts of
 * the leader before it (sent just before its lock was released) land first.
 */
const SETTLE_MS = 50

interface LockManager {
  request(
    name: string,
    options: { signal?: AbortSignal },
    callback: () => Promise<void>,
  ): Promise<void>
}

/** One member: its callbacks, what it has seen, and its role. */
class Member {
  readonly channel: BroadcastChannel
  /** The last event ID this member saw (sent as `Last-Event-ID` if it leads). */
  lastId: string
  /** Whether `lastId` is known (an event, an id, or the leader's state arrived). */
  synced: boolean
  /** The open response, while the stream is open as this member sees it. */
  open: OpenInfo | undefined
  /** Heard from a leader: a handover may have posts in flight. */
  heard = false
  leading = false
  finished = false
  /** Leaves the lock's queue (or stops leading) when this member ends. */
  readonly quit = new AbortController()

  constructor(
    name: string,
    readonly init: FetchEventSourceInit,
    readonly hooks: EngineHooks,
    private readonly settle: (err: unknown, failed: boolean) => void,
  ) {
    this.channel = new BroadcastChannel(name)
    this.lastId = init.lastEventId ?? ''
    this.synced = init.lastEventId !== undefined
  }

  post(msg: Post): void {
    try {
      this.channel.postMessage(msg)
    } catch {
      // a value structured clone refuses (in an error's details): send it as JSON
      this.channel.postMessage(JSON.parse(JSON.stringify(msg)))
    }
  }

  finish(err?: unknown, failed = false): void {
    if (this.finished) return
    this.finished = true
    this.quit.abort()
    this.channel.close()
    this.settle(err, failed)
  }

  /** The stream opened (the leader's response, or a post of it); a handover's open is not shown. */
  opened(info: OpenInfo, response?: Response): void {
    const again = this.open !== undefined
    this.open = info
    if (again) return
    const res = response ?? toResponse(info)
    if (!this.leading && this.init.onopen) {
      Promise.resolve(this.init.onopen(res)).catch((err: unknown) => this.callbackFailed(err))
    }
    this.hooks.opened?.(res)
  }

  seen(id: string): void {
    this.lastId = id
    this.synced = true
  }

  /** A follower's callback threw: its onerror hears it; if that throws too, this member ends with it. */
  callbackFailed(err: unknown): void {
    try {
      this.init.onerror?.(err)
    } catch (fatal) {
      this.finish(fatal, true)
    }
  }
}

/** Run the stream as a member of the group named `name` (see openStream). */
export function runShared(
  input: RequestInfo | URL,
  init: FetchEventSourceInit,
  hooks: EngineHooks,
  name: string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { signal } = init
    const onAbort = () => {
      if (m.finished) return
      init.onabort?.(signal?.reason)
      m.finish()
    }
    const m = new Member(name, init, hooks, (err, failed) => {
      signal?.removeEventListener('abort', onAbort)
      if (failed) reject(err)
      else resolve()
    })
    if (signal?.aborted) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort)
    m.channel.onmessage = (e: MessageEvent<Post>) => {
      if (m.finished) return
      if (m.leading) {
        if (e.data.t === 'hello') m.post({ t: 'state', open: m.open, id: m.lastId })
        return
      }
      try {
        follow(m, e.data)
      } catch (err) {
        m.callbackFailed(err)
      }
    }
    m.post({ t: 'hello' })
    const locks = (navigator as unknown as { locks: LockManager }).locks
    locks
      .request(name, { signal: m.quit.signal }, () => lead(m, input))
      .catch((err: unknown) => {
        if (m.finished) return
        // No lock to be had (an opaque origin, say): run unshared, as this member alone.
        if (!m.leading) lead(m, input).catch(() => {})
        else m.finish(err, true)
      })
  })
}

/** A follower replays one post of the leader into its callbacks. */
function follow(m: Member, msg: Post): void {
  const { init } = m
  if (msg.t !== 'hello') m.heard = true
  switch (msg.t) {
    case 'state':
      if (!m.synced) m.seen(msg.id)
      if (msg.open) m.opened(msg.open)
      return
    case 'open':
      m.opened(msg.open)
      return
    case 'ev':
      m.seen(msg.ev.id)
      init.onmessage?.(msg.ev)
      return
    case 'id':
      m.seen(msg.id)
      return
    case 'close':
      m.open = undefined
      init.onclose?.()
      return
    case 'error':
      m.open = undefined
      try {
        init.onerror?.(fromWire(msg.error)) // a number it returns is the leader's to give
      } catch (fatal) {
        m.finish(fatal, true) // throwing stops this member, as it stops a stream
      }
      return
    case 'retry':
      init.onretry?.(msg.error ? { ...msg.info, error: fromWire(msg.error) } : msg.info)
      return
    case 'parseerror':
      init.onparseerror?.(fromWire(msg.error) as SluiceError)
      return
    case 'end':
      if (msg.error) m.finish(fromWire(msg.error), true)
      else m.finish()
  }
}

/** Holding the lock: run the connection until it ends or this member leaves. */
async function lead(m: Member, input: RequestInfo | URL): Promise<void> {
  if (m.finished) return
  if (m.heard) await new Promise((r) => setTimeout(r, SETTLE_MS))
  if (m.finished) return
  m.leading = true
  const stop = m.quit.signal
  try {
    await runEventStream(input, leaderInit(m), leaderHooks(m))
    if (stop.aborted) return // this member left: the next one takes over
    m.post({ t: 'end' })
    m.finish()
  } catch (err) {
    if (stop.aborted) return
    m.post({ t: 'end', error: toWire(err) })
    m.finish(err, true)
  } finally {
    m.leading = false
  }
}

/** The member's options, its callbacks wrapped to post what happens. */
function leaderInit(m: Member): FetchEventSourceInit {
  const { init } = m
  const { share: _share, signal: _signal, onabort: _onabort, ...rest } = init
  return {
    ...rest,
    // The last ID any member saw; unknown (nothing seen yet): the member's own options decide.
    lastEventId: m.synced ? m.lastId : undefined,
    signal: m.quit.signal,
    // Other tabs may be looking: a hidden leader keeps the stream.
    openWhenHidden: true,
    onopen: async (res) => {
      if (m.open === undefined) await init.onopen?.(res)
    },
    onmessage: (ev) => {
      m.seen(ev.id)
      m.post({ t: 'ev', ev })
      init.onmessage?.(ev)
    },
    onclose: () => {
      m.open = undefined
      m.post({ t: 'close' })
      init.onclose?.()
    },
    onerror: (err) => {
      m.open = undefined
      m.post({ t: 'error', error: toWire(err) })
      return init.onerror?.(err)
    },
    onretry: (info) => {
      const { error, ...rest } = info
      m.post(
        error === undefined
          ? { t: 'retry', info: rest }
          : { t: 'retry', info: rest, error: toWire(error) },
      )
      init.onretry?.(info)
    },
    onparseerror: (err) => {
      m.post({ t: 'parseerror', error: toWire(err) })
      init.onparseerror?.(err)
    },
  }
}

function leaderHooks(m: Member): EngineHooks {
  return {
    spec: m.hooks.spec,
    // No afterChunk: one slow consumer must not hold up every tab.
    opened: (res) => {
      const info: OpenInfo = {
        status: res.status,
        statusText: res.statusText,
        headers: [...res.headers],
      }
      m.post({ t: 'open', open: info })
      m.opened(info, res)
    },
    lastId: (id) => {
      if (m.synced && id === m.lastId) return
      m.seen(id)
      m.post({ t: 'id', id })
    },
  }
}

function toResponse(info: OpenInfo): Response {
  return new Response(null, {
    status: info.status,
    statusText: info.statusText,
    headers: info.headers,
  })
}

function toWire(err: unknown): WireError {
  if (err instanceof SluiceError) {
    return { name: err.name, message: err.message, code: err.code, details: err.details }
  }
  if (err instanceof Error) return { name: err.name, message: err.message }
  return { name: 'Error', message: String(err) }
}

function fromWire(w: WireError): Error {
  if (w.code !== undefined) {
    return new SluiceError(w.code as SluiceError['code'], w.message, w.details ?? {})
  }
  const err = new Error(w.message)
  err.name = w.name
  return err
}
