/**
 * The README's and docs/client.md's `events()` example, run against the real
 * `sluice serve` /chat: text tokens and JSON `run`/`done` events, decoded per
 * event. (The example used `decode: 'json'`, which fails on the first token.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerFor } from '../../src/cli/chat.js'
import { createServeApp } from '../../src/cli/serve.js'
import { events } from '../../src/client/index.js'
import { listenApp, type RunningApp } from '../helpers/serve.js'

let running: RunningApp
beforeAll(async () => {
  running = await listenApp(createServeApp({ log: () => {} }))
})
afterAll(() => running.close())

type Chat = {
  run: { runId: string; resumeUrl: string }
  token: string
  done: { reason: string; tokens?: number }
}

describe('events() on POST /chat, as the docs show it', () => {
  it('decodes per event: tokens as text, run and done as JSON', async () => {
    const body = JSON.stringify({ message: 'hi' })
    let text = ''
    let done: Chat['done'] | undefined
    let runId = ''
    for await (const ev of events<Chat>(`${running.url}/chat?delay=0`, {
      method: 'POST',
      body,
      decode: (data, event) => (event === 'token' ? data : JSON.parse(data)),
    })) {
      if (ev.event === 'token') text += ev.data
      else if (ev.event === 'run') runId = ev.data.runId
      else if (ev.event === 'done') {
        done = ev.data
        break
      }
    }
    expect(runId).toMatch(/^[a-z0-9]+$/)
    expect(text).toBe(answerFor('hi'))
    expect(done).toMatchObject({ reason: 'complete' })
  })

  it("decode: 'json' on the same stream ends with DECODE_FAILED at the first token", async () => {
    const iterate = async () => {
      for await (const _ of events(`${running.url}/chat?delay=0`, {
        method: 'POST',
        body: '{"message":"hi"}',
        decode: 'json',
      })) {
        // run decodes; the first token does not
      }
    }
    await expect(iterate()).rejects.toMatchObject({ code: 'DECODE_FAILED' })
  })
})
