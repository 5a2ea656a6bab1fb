/**
 * `sluice/react`: hooks over sluice's fetchEventSource. React is an optional
 * peer dependency, imported only here.
 *
 * ```tsx
 * import { useChat, useEventStream } from 'sluice/react'
 *
 * function Feed() {
 *   const { status, lastEventId, events } = useEventStream('/events?topic=news')
 *   return <p>{status} — {events.length} events, last id {lastEventId}</p>
 * }
 * function Chat() {
 *   const chat = useChat()
 *   return (
 *     <>
 *       <button onClick={() => chat.send('hello')}>Ask</button>
 *       <button onClick={() => chat.stop()} disabled={!chat.busy}>Stop</button>
 *       <p aria-live="polite">{chat.text}</p>
 *     </>
 *   )
 * }
 * ```
 *
 * The stream closes when the component unmounts or the URL changes.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import {
  type ChatOptions,
  type ChatState,
  type ChatStatus,
  ChatController,
  type EventStreamOptions,
  type EventStreamState,
  type StreamStatus,
  StreamController,
  initialStreamState,
} from './controller.js'

export type { ChatOptions, ChatStatus, EventStreamOptions, StreamStatus }

/** The stream's state (see `EventStreamState`) and its controls. */
export interface UseEventStreamResult<T> extends Omit<EventStreamState<T>, 'received'> {
  /** Close the stream (no more reconnection) until `open()`/`reconnect()`. */
  close: () => void
  /** Close and connect again, sending `Last-Event-ID`. */
  reconnect: () => void
  open: () => void
}

/**
 * Subscribe to an event stream while the component is mounted. A new `url`
 * reconnects; options are read when (re)connecting, callbacks always the
 * latest. Options: every fetchEventSource option plus `parse`, `maxEvents`,
 * `immediate`. Pass `null` as the URL to stay disconnected.
 */
export function useEventStream<T = string>(
  url: string | URL | null,
  options: EventStreamOptions<T> = {},
): UseEventStreamResult<T> {
  const [state, setState] = useState<EventStreamState<T>>(initialStreamState<T>)
  const controller = useRef<StreamController<T> | null>(null)
  const latest = useRef(options)
  latest.current = options
  const key = url === null ? null : String(url)

  useEffect(() => {
    if (key === null) return
    const opts = latest.current
    // Callbacks go through the ref, so a re-render's new closures are used.
    const c = new StreamController<T>(
      key,
      {
        ...opts,
        immediate: false,
        onopen: (res) => latest.current.onopen?.(res),
        onmessage: (ev) => latest.current.onmessage?.(ev),
        onerror: (err) => latest.current.onerror?.(err),
        onretry: (info) => latest.current.onretry?.(info),
      },
      (s) => setState(s),
    )
    controller.current = c
    if (opts.immediate ?? true) c.open()
    return () => {
      c.close()
      if (controller.current === c) controller.current = null
    }
  }, [key])

  const close = useCallback(() => controller.current?.close(), [])
  const reconnect = useCallback(() => controller.current?.reconnect(), [])
  const open = useCallback(() => controller.current?.open(), [])
  return { ...state, close, reconnect, open }
}

/** The run's state (see `ChatState`) and its controls. */
export interface UseChatResult
  extends Pick<ChatState, 'text' | 'status' | 'error' | 'lastEventId' | 'retries'> {
  /** True while an answer is streaming or reconnecting. */
  busy: boolean
  /** Post a message (`POST /chat` by default) and stream the answer. */
  send: (message: string) => Promise<void>
  /** Stop the answer, here and on the server (`DELETE` on the run's resume URL). */
  stop: () => Promise<void>
  /** Continue the current run, or one a reload interrupted; false when there is none. */
  resume: () => boolean
}

/**
 * A chat whose answer streams in, for sluice's runs. With `resumeOnMount`
 * (default true) a run interrupted by a reload continues where it was. On
 * unmount the stream closes but the run is not stopped.
 */
export function useChat(options: ChatOptions & { resumeOnMount?: boolean } = {}): UseChatResult {
  const [state, setState] = useState<ChatState>(() => new ChatController().state)
  const chat = useRef<ChatController | null>(null)
  if (chat.current === null) chat.current = new ChatController(options, (s) => setState(s))
  const resumeOnMount = options.resumeOnMount ?? true

  useEffect(() => {
    const c = chat.current!
    if (resumeOnMount) c.resume()
    return () => c.detach()
  }, [resumeOnMount])

  const send = useCallback((m: string) => chat.current!.send(m), [])
  const stop = useCallback(() => chat.current!.stop(), [])
  const resume = useCallback(() => chat.current!.resume(), [])
  return {
    ...state,
    busy: state.status === 'streaming' || state.status === 'reconnecting',
    send,
    stop,
    resume,
  }
}
