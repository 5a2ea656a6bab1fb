/**
 * Shutting down `sluice serve` (issue 16; issue 17 row 16): every open
 * `/events` stream gets the `SHUTTING_DOWN` error frame docs/server.md
 * promises before it ends, so a client knows to reconnect elsewhere; a chat
 * answer in progress ends with its `done` `{"reason":"lost"}`.
 */
import { expect, it } from 'vitest'
import { serveApp } from '../helpers/serve.js'
import { waitUntil } from '../helpers/wait.js'

it('app.close() ends /events streams with event: error SHUTTING_DOWN', async () => {
  const running = await serveApp()
  const res = await fetch(`${running.url}/events?topic=news`)
  expect(res.status).toBe(200)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  })()
  await waitUntil(() => text.includes('retry:'), 5000, 'the stream to open')
  await running.close()
  await reading
  expect(text).toMatch(/event:error\ndata:\{"error":"SHUTTING_DOWN","message":"[^"]+"\}\n\n$/)
})

it('app.close() ends a chat answer in progress with its done {"reason":"lost"}, not a bare SHUTTING_DOWN', async () => {
  const running = await serveApp()
  const res = await fetch(`${running.url}/chat?delay=100&tokens=100`, {
    method: 'POST',
    body: 'hi',
  })
  expect(res.status).toBe(200)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      text += decoder.decode(value, { stream: true })
    }
  })()
  await waitUntil(() => text.includes('event:token'), 5000, 'the first token')
  await running.close()
  await reading
  expect(text).toMatch(/event:done\nid:[^\n]+\ndata:\{"reason":"lost"[^\n]*\}\n\n$/)
  expect(text).not.toContain('SHUTTING_DOWN')
})
