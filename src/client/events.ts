/**
 * `events(url, options)`: the same engine as fetchEventSource, as an async
 * iterator. It ends when `signal` aborts or the loop exits (`break`), and
 * throws a final error (bad status, bad content type, retries exhausted).
 */
import { SluiceError } from '../protocol/errors.js'
import type { EventSourceMessage } from '../protocol/types.js'
import type { FetchEventSourceInit } from './connection.js'
import { openStream } from './open.js'

/** Event name -> type of its decoded `data`. Unnamed events are called `message`, as EventSource calls them. */
export type EventMap = Record<string, unknown>

/** One event; with a map, `event` narrows `data`. */
export type TypedEvent<M extends EventMap> = {
  [K in keyof M & string]: { event: K; data: M[K]; id: string; retry?: number }
}[keyof M & string]

export interface EventsOptions
  extends Omit<FetchEventSourceInit, 'onmessage' | 'onclose' | 'onerror' | 'onabort'> {
  /**
   * Turn `data` into a value: `'json'` (JSON.parse) or a function. A decode
   * failure ends the iteration with a `SluiceError` (`DECODE_FAILED`).
   */
  decode?: 'json' | ((data: string, event: string) => unknown)
  /** Reading pauses while this many events wait to be consumed. Default 256. */
  highWaterMark?: number
  /** Told about every failed attempt (the iterator itself only sees final errors). */
  onerror?: (err: unknown) => void
}

export interface StreamEvent extends EventSourceMessage {}

export function events(
  url: RequestInfo | URL,
  options?: EventsOptions,
): AsyncIterableIterator<EventSourceMessage>
export function events<M extends EventMap>(
  url: RequestInfo | URL,
  options: EventsOptions,
): AsyncIterableIterator<TypedEvent<M>>
export function events(
  url: RequestInfo | URL,
  options: EventsOptions = {},
): AsyncIterableIterator<any> {
  const { signal, decode, highWaterMark = 256, onerror, ...rest } = options
  const ctrl = new AbortController()
  const onAbort = () => ctrl.abort(signal?.reason)
  if (signal?.aborted) ctrl.abort(signal.reason)
  else signal?.addEventListener('abort', onAbort, { once: true })

  const queue: unknown[] = []
  let finished = false
  let failure: unknown
  let waiter: (() => void) | undefined
  let drained: (() => void) | undefined
  const notify = () => {
    const w = waiter
    waiter = undefined
    w?.()
  }
  const release = () => {
    const d = drained
    drained = undefined
    d?.()
  }
  const fail = (err: unknown) => {
    if (finished) return
    failure = err
    finished = true
    ctrl.abort()
    release()
    notify()
  }
  const decoder =
    decode === 'json'
      ? (data: string) => JSON.parse(data)
      : typeof decode === 'function'
        ? decode
        : undefined

  openStream(
    url,
    {
      ...rest,
      signal: ctrl.signal,
      onerror: onerror
        ? (err) => {
            onerror(err)
          }
        : undefined,
      onmessage(ev) {
        if (finished) return
        const event = ev.event || 'message'
        let data: unknown = ev.data
        if (decoder) {
          try {
            data = decoder(ev.data, event)
          } catch (cause) {
            fail(
              new SluiceError(
                'DECODE_FAILED',
                `Could not decode the data of event '${event}' (id '${ev.id}'): ${cause instanceof Error ? cause.message : String(cause)}`,
                { event, id: ev.id, data: ev.data.slice(0, 200) },
                { cause },
              ),
            )
            return
          }
        }
        queue.push(
          ev.retry === undefined
            ? { event, data, id: ev.id }
            : { event, data, id: ev.id, retry: ev.retry },
        )
        notify()
      },
    },
    {
      afterChunk: () =>
        queue.length >= highWaterMark && !finished
          ? new Promise<void>((r) => (drained = r))
          : undefined,
    },
  ).then(
    () => {
      finished = true
      signal?.removeEventListener('abort', onAbort)
      notify()
    },
    (err) => {
      signal?.removeEventListener('abort', onAbort)
      fail(err)
    },
  )

  const iterator: AsyncIterableIterator<any> = {
    [Symbol.asyncIterator]() {
      return iterator
    },
    async next(): Promise<IteratorResult<any>> {
      for (;;) {
        if (queue.length > 0) {
          const value = queue.shift()
          if (queue.length < highWaterMark / 2) release()
          return { done: false, value }
        }
        if (finished) {
          if (failure !== undefined) {
            const err = failure
            failure = undefined
            throw err
          }
          return { done: true, value: undefined }
        }
        await new Promise<void>((r) => (waiter = r))
      }
    },
    async return(): Promise<IteratorResult<any>> {
      finished = true
      queue.length = 0
      ctrl.abort()
      release()
      notify()
      return { done: true, value: undefined }
    },
  }
  return iterator
}
