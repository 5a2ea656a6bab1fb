/**
 * Reading event streams in tests, always with sluice's own parser: a whole
 * response into an array, or a live connection the test waits on.
 */
import { POSITION_EVENT } from '../../src/protocol/headers.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'

/**
 * The hub's position event (`sluice-position`) is the protocol's, not the
 * app's: these readers hide it, as sluice's client does (its id still counts).
 */
export const isAppEvent = (e: EventSourceMessage): boolean => e.event !== POSITION_EVENT

/** Read an SSE response to its end (or until `stop` says so), with sluice's parser. */
export async function readEvents(
  response: Response,
  stop?: (e: EventSourceMessage, all: EventSourceMessage[]) => boolean,
): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = []
  let stopped = false
  const parser = createParser({
    onEvent: (e) => {
      if (stopped || !isAppEvent(e)) return
      events.push(e)
      if (stop?.(e, events)) stopped = true
    },
  })
  const reader = response.body!.getReader()
  try {
    while (!stopped) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(value)
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
  return events
}

export interface SseConnection {
  response: Response
  events: EventSourceMessage[]
  /** Resolves when the stream ends (server closed, or we aborted). */
  ended: Promise<void>
  /** Wait until `count` events (not counting `skip`-filtered) have arrived. */
  waitFor(cond: (events: EventSourceMessage[]) => boolean, ms?: number): Promise<void>
  close(): void
}

export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseConnection> {
  const ac = new AbortController()
  const response = await fetch(url, { headers, signal: ac.signal })
  const events: EventSourceMessage[] = []
  let notify = null as (() => void) | null
  const parser = createParser({
    onEvent: (e) => {
      if (!isAppEvent(e)) return
      events.push(e)
      notify?.()
    },
  })
  const ended = (async () => {
    if (!response.ok || !response.body) return
    const reader = response.body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
    } catch {
      // aborted or cut
    } finally {
      notify?.()
    }
  })()
  let isEnded = false
  ended.then(() => (isEnded = true))
  return {
    response,
    events,
    ended,
    async waitFor(cond, ms = 10_000) {
      const deadline = Date.now() + ms
      while (!cond(events)) {
        if (isEnded)
          throw new Error(`stream ended before the condition held (${events.length} events)`)
        const left = deadline - Date.now()
        if (left <= 0)
          throw new Error(`condition not met within ${ms} ms (${events.length} events)`)
        await new Promise<void>((r) => {
          notify = r
          setTimeout(r, Math.min(left, 200))
        })
        notify = null
      }
    },
    close: () => ac.abort(),
  }
}
