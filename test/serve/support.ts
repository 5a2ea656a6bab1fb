/**
 * Shared parts for the `sluice serve` tests: a chat POST read with sluice's
 * parser, timing each event (the app itself: test/helpers/serve.ts).
 */
import { isAppEvent } from '../helpers/sse.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'

export interface Timed<T> {
  at: number
  value: T
}

/** POST a chat message with fetch; parse the answer with sluice's parser, timing each event. */
export async function postChat(
  url: string,
  body: unknown,
  init: { signal?: AbortSignal; onEvent?: (e: EventSourceMessage) => void } = {},
): Promise<{
  status: number
  headers: Headers
  events: Timed<EventSourceMessage>[]
  text: string
}> {
  const t0 = performance.now()
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  })
  const events: Timed<EventSourceMessage>[] = []
  const parser = createParser({
    onEvent: (e) => {
      if (!isAppEvent(e)) return
      events.push({ at: performance.now() - t0, value: e })
      init.onEvent?.(e)
    },
  })
  let text = ''
  const decoder = new TextDecoder()
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const s = decoder.decode(chunk, { stream: true })
    text += s
    parser.feed(s)
  }
  return { status: res.status, headers: res.headers, events, text }
}
