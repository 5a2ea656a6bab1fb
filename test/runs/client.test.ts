/**
 * The guide's Vue-style client (`fetchEventSource` POSTing JSON with
 * `Accept`, `openWhenHidden`, an AbortController, onopen/onmessage/onclose/
 * onerror), with the import changed to `sluice/client`, reading chat runs
 * through a proxy that keeps cutting the connection: exactly one POST per
 * run however many reconnects, counted by the server; the answer complete.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tokenize } from '../../src/cli/chat.js'
import { fetchEventSource } from '../../src/client/index.js'
import type { EventSourceMessage } from '../../src/protocol/index.js'
import { type Node, startChaosProxy, startNode } from './support.js'

let node: Node
beforeAll(async () => {
  node = await startNode()
})
afterAll(() => node.close())

/** The component's `invokeSse()`, as in the guide, but for `onerror` (see below). */
function invokeSse(url: string, name: string) {
  const ctrl = new AbortController()
  const messages: EventSourceMessage[] = []
  let opens = 0
  let errors = 0
  const finished = fetchEventSource(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      // The guide's array: fetch joins it into one header value.
      Accept: ['text/event-stream', 'application/json'] as unknown as string,
    },
    body: JSON.stringify({ name }),
    openWhenHidden: true,
    signal: ctrl.signal,
    retry: { initialDelay: 20, maxDelay: 200 },
    onopen: async () => {
      opens++
    },
    onmessage(msg) {
      messages.push(msg)
    },
    onclose() {
      // The body ended normally: the answer is complete (the guide aborts here too).
      ctrl.abort()
    },
    onerror() {
      // The guide aborts here as well, which turns reconnection off altogether;
      // the point of this test is reconnecting, so errors are only counted.
      errors++
    },
  })
  return { finished, messages, opens: () => opens, errors: () => errors }
}

it('one POST per run however many reconnects; resumes are GETs of Sluice-Resume-Url', async () => {
  const RUNS = 10
  const before = node.requests.length
  for (let i = 0; i < RUNS; i++) {
    const name = `Vue user ${i}`
    const proxy = await startChaosProxy(() => node.port)
    try {
      const sse = invokeSse(`${proxy.url}/chat?delay=2&tokens=200`, name)
      await sse.finished
      const tokens = sse.messages.filter((m) => m.event === 'token')
      expect(tokens.map((t) => t.data)).toEqual(
        tokenize({ message: name, mode: 'words', tokens: 200 }),
      )
      const runId = tokens[0]!.id.split(':')[0]
      expect(tokens.map((t) => t.id)).toEqual(tokens.map((_, k) => `${runId}:${k + 1}`))
      expect(sse.messages.at(-1)!.event).toBe('done')
      expect(proxy.cuts).toBeGreaterThanOrEqual(2)
      expect(sse.errors()).toBe(proxy.cuts)
      expect(sse.opens()).toBe(proxy.cuts + 1)
    } finally {
      await proxy.close()
    }
  }
  const requests = node.requests.slice(before)
  expect(requests.filter((r) => r === 'POST /chat')).toHaveLength(RUNS)
  expect(requests.filter((r) => r.startsWith('GET /chat/')).length).toBeGreaterThanOrEqual(RUNS * 2)
  expect(requests.every((r) => r === 'POST /chat' || r.startsWith('GET /chat/'))).toBe(true)
}, 60_000)
