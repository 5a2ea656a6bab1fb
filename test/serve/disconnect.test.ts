/**
 * What `POST /chat` does when its client leaves mid-answer, on the wire:
 * an envelope answer (the guide's line-by-line clients, which get no ids or
 * resume URL and so can never resume) stops its model at once; an SSE answer
 * keeps running to be resumed; `?stopOnDisconnect=` overrides either default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningApp, serveApp } from '../helpers/serve.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { postChat } from './support.js'

let running: RunningApp

beforeAll(async () => {
  running = await serveApp()
})
afterAll(() => running.close())

/** POST a chat, abort the connection after `after` events; resolves with the response headers once cut. */
async function cutAfter(query: string, after: number): Promise<Headers> {
  const controller = new AbortController()
  let seen = 0
  let headers: Headers | undefined
  const reading = fetch(`${running.url}/chat?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'a long answer' }),
    signal: controller.signal,
  }).then(async (res) => {
    headers = res.headers
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      // Each chunk frame is one `data:` line; count the blank lines that end them.
      seen += decoder.decode(chunk, { stream: true }).split('\n\n').length - 1
      if (seen >= after) controller.abort()
    }
  })
  await reading.catch(() => {})
  expect(seen).toBeGreaterThanOrEqual(after)
  return headers!
}

describe('POST /chat: a client that disconnects mid-answer', () => {
  it('envelope format: the run stops and the model aborts within one second (nobody can resume it)', async () => {
    const { chat } = running.app
    const abortedBefore = chat.aborted
    await cutAfter('format=envelope&delay=40&tokens=1000', 3)
    const abortMs = await waitUntil(() => chat.aborted > abortedBefore, 5000, 'the model abort')
    expect(abortMs).toBeLessThan(1000)
    // The simulated model produces nothing more.
    const tokensAtStop = chat.tokens
    await sleep(200) // a bounded quiet wait: no token may follow
    expect(chat.tokens).toBe(tokensAtStop)
    expect(chat.active).toBe(0)
  })

  it('SSE format: the run keeps going after the disconnect, to be resumed, until DELETE', async () => {
    const { chat } = running.app
    const abortedBefore = chat.aborted
    const headers = await cutAfter('delay=20&tokens=1000', 3)
    const resumeUrl = headers.get('sluice-resume-url')!
    const tokensAtCut = chat.tokens
    await sleep(400) // a bounded quiet wait: no abort may come (and tokens do)
    expect(chat.aborted).toBe(abortedBefore)
    expect(chat.tokens).toBeGreaterThan(tokensAtCut)
    const stop = await fetch(`${running.url}${resumeUrl}`, { method: 'DELETE' })
    expect(await stop.json()).toMatchObject({ reason: 'stopped', stopped: true })
    await waitUntil(() => chat.aborted > abortedBefore, 1000)
  })

  it('?stopOnDisconnect=false keeps an envelope answer running; ?stopOnDisconnect=0 stops an SSE one', async () => {
    const { chat } = running.app
    let abortedBefore = chat.aborted
    const headers = await cutAfter('format=envelope&delay=20&tokens=1000&stopOnDisconnect=false', 3)
    await sleep(400) // a bounded quiet wait: no abort may come
    expect(chat.aborted).toBe(abortedBefore)
    await fetch(`${running.url}${headers.get('sluice-resume-url')}`, { method: 'DELETE' })
    await waitUntil(() => chat.aborted > abortedBefore, 1000)

    abortedBefore = chat.aborted
    await cutAfter('delay=40&tokens=1000&stopOnDisconnect=0', 3)
    await waitUntil(() => chat.aborted > abortedBefore, 1000)
  })

  it('an envelope answer read to the end is complete: the default changes only what a disconnect does', async () => {
    const { events } = await postChat(`${running.url}/chat?format=envelope&delay=0&tokens=50`, {
      message: 'hi',
    })
    expect(events.at(-1)!.value.data).toBe('{"code":-200}')
    expect(events.filter((e) => JSON.parse(e.value.data).code === 200)).toHaveLength(50)
  })

  it('a wrong ?stopOnDisconnect= is a 400 naming the accepted values', async () => {
    const res = await fetch(`${running.url}/chat?stopOnDisconnect=soon`, {
      method: 'POST',
      body: '{"message":"hi"}',
    })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body.error).toBe('BAD_REQUEST')
    expect(body.message).toContain('`true`, `false`')
  })
})
