/**
 * `sluice/vue`: composables over sluice's fetchEventSource. Vue is an optional
 * peer dependency, imported only here.
 *
 * ```vue
 * <script setup lang="ts">
 * import { useEventStream, useChat } from 'sluice/vue'
 * const feed = useEventStream('/events?topic=news', { parse: (e) => JSON.parse(e.data) })
 * const chat = useChat()
 * </script>
 * <template>
 *   <p>{{ feed.status }} — last id {{ feed.lastEventId }}</p>
 *   <button @click="chat.send('hello')">Ask</button> <button @click="chat.stop()">Stop</button>
 *   <p aria-live="polite">{{ chat.text }}</p>
 * </template>
 * ```
 *
 * Everything is cleaned up with the component (or effect scope) that called
 * the composable: the stream is closed in `onScopeDispose`.
 */
import {
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
  getCurrentScope,
  onScopeDispose,
  readonly,
  ref,
  shallowRef,
  toValue,
  watch,
} from 'vue'
import type { EventSourceMessage } from '../protocol/types.js'
import {
  type ChatOptions,
  type ChatState,
  type ChatStatus,
  ChatController,
  type EventStreamOptions,
  type EventStreamState,
  type StreamStatus,
  StreamController,
} from './controller.js'

export type { ChatOptions, ChatStatus, EventStreamOptions, StreamStatus }

export interface UseEventStreamReturn<T> {
  /** The latest event's data (after `parse`). */
  data: Readonly<ShallowRef<T | undefined>>
  /** The most recent events, oldest first (bounded by `maxEvents`). */
  events: Readonly<ShallowRef<EventSourceMessage[]>>
  status: Readonly<Ref<StreamStatus>>
  error: Readonly<ShallowRef<unknown>>
  lastEventId: Readonly<Ref<string>>
  retries: Readonly<Ref<number>>
  /** Close the stream (no more reconnection) until `open()`/`reconnect()`. */
  close: () => void
  /** Close and connect again, sending `Last-Event-ID`. */
  reconnect: () => void
  open: () => void
}

/**
 * Subscribe to an event stream. `url` may be a ref or getter: when it
 * changes, the stream reconnects to the new URL. Options are every
 * fetchEventSource option (method, headers, body, openWhenHidden, signal,
 * onopen, onmessage, onerror...) plus `parse`, `maxEvents`, `immediate`.
 */
export function useEventStream<T = string>(
  url: MaybeRefOrGetter<string | URL>,
  options: EventStreamOptions<T> = {},
): UseEventStreamReturn<T> {
  const data = shallowRef<T | undefined>(undefined)
  const events = shallowRef<EventSourceMessage[]>([])
  const status = ref<StreamStatus>('idle')
  const error = shallowRef<unknown>(undefined)
  const lastEventId = ref('')
  const retries = ref(0)
  const sync = (s: EventStreamState<T>) => {
    data.value = s.data
    events.value = s.events
    status.value = s.status
    error.value = s.error
    lastEventId.value = s.lastEventId
    retries.value = s.retries
  }
  const controller = new StreamController<T>(toValue(url), { ...options, immediate: false }, sync)
  if (options.immediate ?? true) controller.open()
  watch(
    () => String(toValue(url)),
    (next, prev) => {
      if (next === prev) return
      controller.setUrl(next)
      if (status.value !== 'idle' && status.value !== 'closed') controller.reconnect()
    },
  )
  if (getCurrentScope()) onScopeDispose(() => controller.close())
  return {
    data: readonly(data) as Readonly<ShallowRef<T | undefined>>,
    events: readonly(events) as Readonly<ShallowRef<EventSourceMessage[]>>,
    status: readonly(status),
    error: readonly(error) as Readonly<ShallowRef<unknown>>,
    lastEventId: readonly(lastEventId),
    retries: readonly(retries),
    close: () => controller.close(),
    reconnect: () => controller.reconnect(),
    open: () => controller.open(),
  }
}

export interface UseChatReturn {
  /** The answer so far. */
  text: Readonly<Ref<string>>
  status: Readonly<Ref<ChatStatus>>
  error: Readonly<ShallowRef<unknown>>
  lastEventId: Readonly<Ref<string>>
  retries: Readonly<Ref<number>>
  /** True while an answer is streaming or reconnecting. */
  busy: Readonly<Ref<boolean>>
  /** Post a message (`POST /chat` by default) and stream the answer. */
  send: (message: string) => Promise<void>
  /** Stop the answer, here and on the server (`DELETE` on the run's resume URL). */
  stop: () => Promise<void>
  /** Continue the current run, or one a reload interrupted; false when there is none. */
  resume: () => boolean
}

/**
 * A chat whose answer streams in, for sluice's runs (`POST /chat`, resumable
 * at the `Sluice-Resume-Url` it answers with). With `resumeOnMount` (default
 * true) a run interrupted by a reload continues where it was. On unmount the
 * stream closes but the run is not stopped, so a later page can resume it.
 */
export function useChat(options: ChatOptions & { resumeOnMount?: boolean } = {}): UseChatReturn {
  const text = ref('')
  const status = ref<ChatStatus>('idle')
  const error = shallowRef<unknown>(undefined)
  const lastEventId = ref('')
  const retries = ref(0)
  const busy = ref(false)
  const sync = (s: ChatState) => {
    text.value = s.text
    status.value = s.status
    error.value = s.error
    lastEventId.value = s.lastEventId
    retries.value = s.retries
    busy.value = s.status === 'streaming' || s.status === 'reconnecting'
  }
  const chat = new ChatController(options, sync)
  if (options.resumeOnMount ?? true) chat.resume()
  if (getCurrentScope()) onScopeDispose(() => chat.detach())
  return {
    text: readonly(text),
    status: readonly(status),
    error: readonly(error) as Readonly<ShallowRef<unknown>>,
    lastEventId: readonly(lastEventId),
    retries: readonly(retries),
    busy: readonly(busy),
    send: (m) => chat.send(m),
    stop: () => chat.stop(),
    resume: () => chat.resume(),
  }
}
