/**
 * The demo page: a chat whose answer streams in (stop, resume after a drop
 * or a reload), a live topic feed (subscribe, publish), and the state of both
 * connections. Plain DOM over sluice's own controllers — the same ones
 * `sluice/vue` and `sluice/react` wrap.
 */
import {
  type ChatState,
  ChatController,
  type EventStreamState,
  initialStreamState,
  StreamController,
} from '../integrations/controller.js'
import { humanError } from './errors.js'
import './style.css'

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T

// The chat simulator's knobs pass through from the page URL: /?delay=100&tokens=40
const pageParams = new URLSearchParams(location.search)
const chatParams = new URLSearchParams()
for (const k of ['delay', 'tokens', 'mode']) {
  const v = pageParams.get(k)
  if (v) chatParams.set(k, v)
}
const chatUrl = '/chat' + (chatParams.toString() ? '?' + chatParams : '')

// ---- connection panel -------------------------------------------------------

interface Row {
  state: string
  id: string
  retries: number
  count: number
}
const rows: Record<'chat' | 'feed', Row> = {
  chat: { state: 'idle', id: '', retries: 0, count: 0 },
  feed: { state: 'idle', id: '', retries: 0, count: 0 },
}
const lastCount = { chat: 0, feed: 0 }

function renderRow(name: 'chat' | 'feed', rate?: number): void {
  const tr = $(`row-${name}`)
  const r = rows[name]
  const cell = (k: string) => tr.querySelector<HTMLElement>(`[data-k="${k}"]`)!
  cell('state').textContent = r.state
  cell('id').textContent = r.id || '–'
  cell('retries').textContent = String(r.retries)
  if (rate !== undefined) cell('rate').textContent = String(rate)
}

setInterval(() => {
  for (const name of ['chat', 'feed'] as const) {
    renderRow(name, rows[name].count - lastCount[name])
    lastCount[name] = rows[name].count
  }
}, 1000)

function badge(el: HTMLElement, status: string, label = status): void {
  el.dataset.status = status
  el.textContent = label
}

// ---- chat -------------------------------------------------------------------

const answer = $('answer')
const chatStatus = $('chat-status')
const chatNote = $('chat-note')
const stopButton = $<HTMLButtonElement>('stop')
let shown = ''

const LABELS: Record<ChatState['status'], string> = {
  idle: 'idle',
  streaming: 'streaming',
  reconnecting: 'reconnecting…',
  done: 'done',
  stopped: 'stopped',
  error: 'error',
}

function renderChat(s: ChatState): void {
  // Append only what is new: no re-layout of the whole answer per token.
  if (s.text.startsWith(shown)) {
    if (s.text.length > shown.length) answer.append(s.text.slice(shown.length))
  } else answer.textContent = s.text
  shown = s.text
  answer.dataset.status = s.status
  badge(chatStatus, s.status, LABELS[s.status])
  const busy = s.status === 'streaming' || s.status === 'reconnecting'
  stopButton.disabled = !busy
  answer.setAttribute('aria-busy', String(busy))
  if (s.status === 'reconnecting') {
    chatNote.textContent = s.lastEventId
      ? `Connection lost — resuming the answer after event ${s.lastEventId}…`
      : 'Connecting…'
  } else if (s.status === 'error') {
    chatNote.textContent = `The answer failed. ${humanError(s.error)}`
  } else if (s.status === 'stopped') {
    chatNote.textContent = 'Stopped.'
  } else chatNote.textContent = ''
  if (s.status === 'done' || s.status === 'stopped' || s.status === 'error') keepLast(s)
  rows.chat.state = s.status
  rows.chat.id = s.lastEventId
  rows.chat.retries = s.retries
  rows.chat.count = s.tokens
  renderRow('chat')
}

// The last finished answer and its question, kept for this tab across reloads.
const LAST_KEY = 'sluice-demo-last'
type Last = Pick<ChatState, 'message' | 'text' | 'status' | 'lastEventId'>

function keepLast(s: ChatState): void {
  const last: Last = {
    message: s.message,
    text: s.text,
    status: s.status,
    lastEventId: s.lastEventId,
  }
  try {
    sessionStorage.setItem(LAST_KEY, JSON.stringify(last))
  } catch {
    // storage full or disabled: the answer is just not kept
  }
}

function lastAnswer(): Last | undefined {
  try {
    const raw = sessionStorage.getItem(LAST_KEY)
    return raw ? (JSON.parse(raw) as Last) : undefined
  } catch {
    return undefined
  }
}

const chat = new ChatController({ url: chatUrl, persist: 'sluice-demo-chat' }, renderChat)
const messageInput = $<HTMLInputElement>('message')

$<HTMLFormElement>('chat-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const message = messageInput.value.trim()
  if (!message) return
  answer.textContent = ''
  shown = ''
  void chat.send(message)
})
stopButton.addEventListener('click', () => void chat.stop())

// A reload in the middle of an answer continues it where it was, under its
// own question; after one, the last answer stays on the page.
if (chat.resume()) {
  messageInput.value = chat.state.message
} else {
  const last = lastAnswer()
  if (last?.message) {
    messageInput.value = last.message
    renderChat({ ...chat.state, ...last })
  } else renderChat(chat.state)
}

// ---- live feed --------------------------------------------------------------

const topics = new Set<string>([pageParams.get('topic') ?? 'demo'])
const feedList = $('feed')
const feedStatus = $('feed-status')
let feed: StreamController | undefined
const FEED_MAX = 50

function renderTopics(): void {
  const ul = $('topics')
  const select = $<HTMLSelectElement>('pub-topic')
  const chosen = select.value
  ul.replaceChildren()
  select.replaceChildren()
  for (const t of topics) {
    const li = document.createElement('li')
    li.textContent = t
    const x = document.createElement('button')
    x.type = 'button'
    x.className = 'chip-x'
    x.textContent = '×'
    x.setAttribute('aria-label', `Unsubscribe from ${t}`)
    x.addEventListener('click', () => {
      topics.delete(t)
      renderTopics()
      subscribe()
    })
    li.append(x)
    ul.append(li)
    const opt = document.createElement('option')
    opt.value = opt.textContent = t
    select.append(opt)
  }
  if (topics.has(chosen)) select.value = chosen
}

function onFeed(s: EventStreamState): void {
  const label = s.status === 'reconnecting' ? 'reconnecting…' : s.status
  badge(feedStatus, s.status, label)
  $('feed-note').textContent =
    s.status === 'error' || s.status === 'reconnecting'
      ? `${s.status === 'error' ? 'Feed stopped' : 'Reconnecting'}. ${humanError(s.error)}`
      : ''
  rows.feed.state = s.status
  rows.feed.id = s.lastEventId
  rows.feed.retries = s.retries
  rows.feed.count = s.received
  renderRow('feed')
}

function showEvent(ev: { id: string; event: string; data: string }): void {
  // Hub events carry no topic; name it when only one is subscribed.
  let topic =
    ev.event && ev.event !== 'message' ? ev.event : topics.size === 1 ? [...topics][0] : ''
  let text = ev.data
  try {
    const v = JSON.parse(ev.data) as { topic?: unknown; data?: unknown }
    if (v && typeof v === 'object' && 'data' in v) {
      if (typeof v.topic === 'string') topic = v.topic
      text = typeof v.data === 'string' ? v.data : JSON.stringify(v.data)
    }
  } catch {
    // plain text data
  }
  const li = document.createElement('li')
  const t = document.createElement('span')
  t.className = 'topic'
  t.textContent = topic || 'message'
  const d = document.createElement('span')
  d.className = 'data'
  d.textContent = text
  const i = document.createElement('span')
  i.className = 'eid'
  i.textContent = ev.id ? `#${ev.id}` : ''
  li.append(t, d, i)
  feedList.prepend(li)
  while (feedList.children.length > FEED_MAX) feedList.lastElementChild?.remove()
}

function subscribe(): void {
  feed?.close()
  feed = undefined
  if (topics.size === 0) {
    onFeed({ ...initialStreamState(), status: 'closed' })
    return
  }
  const q = new URLSearchParams()
  for (const t of topics) q.append('topic', t)
  // share: every tab of this page on these topics reads one connection (docs/frontend.md),
  // so any number of tabs work over HTTP/1.1's six connections per origin.
  feed = new StreamController(
    '/events?' + q,
    { onmessage: showEvent, maxEvents: 0, share: true },
    onFeed,
  )
}

$<HTMLFormElement>('sub-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('topic')
  const t = input.value.trim()
  if (!t || topics.has(t)) return
  topics.add(t)
  renderTopics()
  subscribe()
})

$<HTMLFormElement>('pub-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('pub-data')
  const topic = $<HTMLSelectElement>('pub-topic').value
  const data = input.value
  if (!topic || !data) return
  const button = $<HTMLButtonElement>('publish')
  button.disabled = true
  try {
    const res = await fetch('/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, data }),
    })
    if (!res.ok) {
      // The hub's JSON error says what was wrong (a bad topic, a missing token): show it.
      const body = (await res.json().catch(() => ({}))) as { message?: string }
      throw Object.assign(new Error(body.message ?? ''), { status: res.status })
    }
    input.value = ''
  } catch (err) {
    showEvent({ id: '', event: 'error', data: `Publish failed. ${publishError(err)}` })
  } finally {
    button.disabled = false
  }
})

renderTopics()
subscribe()

function publishError(err: unknown): string {
  const e = err as { message?: string; status?: number }
  if (e.status !== undefined) {
    return e.message || humanError({ code: 'BAD_STATUS', details: { status: e.status } })
  }
  return humanError(err)
}
