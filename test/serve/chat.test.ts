/**
 * `POST /chat` of `sluice serve`, in-process on a loopback port: the answer
 * streamed token by token (SSE and the guide's envelope), the 4xx answers,
 * a third-party client (the `eventsource` package), and a client that leaves.
 */
import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerFor } from '../../src/cli/chat.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { postChat, type RunningApp, sleep, startApp, waitUntil } from './support.js'

let running: RunningApp
beforeAll(async () => {
  running = await startApp()
})
afterAll(() => running.close())

describe('POST /chat as SSE', () => {
  it('streams the answer as `token` events with increasing ids, then `done`', async () => {
    const { status, headers, events } = await postChat(`${running.url}/chat?delay=5`, {
      message: 'What is SSE?',
    })
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const tokens = events.filter((e) => e.value.event === 'token').map((e) => e.value)
    expect(tokens.length).toBeGreaterThan(5)
    expect(tokens.map((t) => t.id)).toEqual(tokens.map((_, i) => String(i + 1)))
    expect(tokens.map((t) => t.data).join('')).toBe(answerFor('What is SSE?'))
    const last = events.at(-1)!.value
    expect(last.event).toBe('done')
    expect(JSON.parse(last.data)).toEqual({ tokens: tokens.length })
    expect(Number(last.id)).toBe(tokens.length + 1)
  })

  it('is deterministic, and takes `name` or `data` as the guide’s clients send', async () => {
    const a = await postChat(`${running.url}/chat?delay=0`, { name: 'Hello World!' })
    const b = await postChat(`${running.url}/chat?delay=0`, { data: 'Hello World!' })
    const c = await postChat(`${running.url}/chat?delay=0`, { message: 'Hello World!' })
    expect(a.text).toBe(b.text)
    expect(b.text).toBe(c.text)
  })

  it('mode=chars&delay=100 echoes the message one character per 100 ms (the guide’s example)', async () => {
    const { events } = await postChat(`${running.url}/chat?mode=chars&delay=100`, {
      name: 'Hello World!',
    })
    const tokens = events.filter((e) => e.value.event === 'token')
    expect(tokens.map((t) => t.value.data)).toEqual([...'Hello World!'])
    // Streamed as produced: about 100 ms apart, not all at the end.
    const spread = tokens.at(-1)!.at - tokens[0].at
    expect(spread).toBeGreaterThan(11 * 100 * 0.8)
    for (let i = 1; i < tokens.length; i++) {
      expect(tokens[i].at - tokens[i - 1].at).toBeGreaterThan(50)
    }
  })

  it('tokens=N gives an answer of exactly N tokens', async () => {
    const { events } = await postChat(`${running.url}/chat?delay=0&tokens=250`, { message: 'x' })
    expect(events.filter((e) => e.value.event === 'token')).toHaveLength(250)
    expect(events.at(-1)!.value.event).toBe('done')
  })

  it('a model failure is an `error` event with a message safe to show, then the end', async () => {
    const { events } = await postChat(`${running.url}/chat?delay=0&fail=3`, {
      message: 'a b c d e',
    })
    expect(events.map((e) => e.value.event)).toEqual(['token', 'token', 'token', 'error'])
    const error = JSON.parse(events[3].value.data)
    expect(error).toEqual({
      error: 'MODEL_FAILED',
      message: 'The model failed before finishing this answer; please try again.',
    })
  })
})

describe('POST /chat?format=envelope', () => {
  /** Read it as the guide's Python client does: line by line, json.loads(line[5:]). */
  function readLikeTheGuide(
    text: string,
  ): Array<{ code: number; data?: unknown; message?: string }> {
    const frames = []
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      expect(line.startsWith('data:')).toBe(true)
      frames.push(JSON.parse(line.slice(5)))
    }
    return frames
  }

  it('streams only `data:{"code":200,...}` lines and ends with `data:{"code":-200}`', async () => {
    const { text } = await postChat(`${running.url}/chat?format=envelope&mode=chars&delay=5`, {
      name: 'Hello World!',
    })
    const frames = readLikeTheGuide(text)
    expect(frames.at(-1)).toEqual({ code: -200 })
    expect(frames.slice(0, -1).every((f) => f.code === 200)).toBe(true)
    expect(frames.slice(0, -1).map((f) => f.data)).toEqual([...'Hello World!'])
    expect(text).not.toMatch(/^(event|id|retry):/m)
  })

  it('heartbeats in envelope mode are `{"code":102}` frames a line-by-line JSON reader ignores', async () => {
    const { text } = await postChat(
      `${running.url}/chat?format=envelope&mode=chars&delay=150&heartbeat=40`,
      { message: 'abc' },
    )
    const frames = readLikeTheGuide(text)
    expect(frames.filter((f) => f.code === 102).length).toBeGreaterThanOrEqual(2)
    expect(frames.filter((f) => f.code === 200).map((f) => f.data)).toEqual(['a', 'b', 'c'])
    expect(frames.at(-1)).toEqual({ code: -200 })
  })

  it('a failure is a `{"code":500,"message":...}` frame', async () => {
    const { text } = await postChat(`${running.url}/chat?format=envelope&delay=0&fail=1`, {
      message: 'hi',
    })
    const frames = readLikeTheGuide(text)
    expect(frames.map((f) => f.code)).toEqual([200, 500])
    expect(frames[1].message).toBe(
      'The model failed before finishing this answer; please try again.',
    )
  })
})

describe('bad requests get a 4xx with a JSON body naming the problem', () => {
  async function expectError(
    init: { method?: string; path?: string; body?: string; headers?: Record<string, string> },
    status: number,
    code: string,
  ): Promise<Response> {
    const res = await fetch(`${running.url}${init.path ?? '/chat'}`, {
      method: init.method ?? 'POST',
      body: init.body,
      headers: init.headers,
    })
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const body = await res.json()
    expect(body.error).toBe(code)
    expect(typeof body.message).toBe('string')
    return res
  }

  it('answers each problem, and keeps serving', async () => {
    await expectError({ body: '{"message": "unterminated' }, 400, 'INVALID_JSON')
    await expectError({ body: '' }, 400, 'INVALID_JSON')
    await expectError({ body: '{"text":"hi"}' }, 400, 'MISSING_MESSAGE')
    await expectError({ body: '{"message":42}' }, 400, 'MISSING_MESSAGE')
    await expectError({ body: '["hi"]' }, 400, 'MISSING_MESSAGE')
    const big = JSON.stringify({ message: 'x'.repeat(70 * 1024) })
    await expectError({ body: big }, 413, 'BODY_TOO_LARGE')
    // Without a Content-Length (chunked), the cap holds while reading.
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 70; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1024)))
        c.close()
      },
    })
    const res = await fetch(`${running.url}/chat`, {
      method: 'POST',
      body: chunked,
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
    expect((await res.json()).error).toBe('BODY_TOO_LARGE')
    const wrong = await expectError({ method: 'GET' }, 405, 'METHOD_NOT_ALLOWED')
    expect(wrong.headers.get('allow')).toBe('POST')
    await expectError({ path: '/nope', method: 'GET' }, 404, 'NOT_FOUND')
    await expectError({ path: '/chat?delay=-1', body: '{"message":"hi"}' }, 400, 'BAD_REQUEST')
    await expectError({ path: '/chat?format=xml', body: '{"message":"hi"}' }, 400, 'BAD_REQUEST')
    // Still serving.
    const ok = await postChat(`${running.url}/chat?delay=0`, { message: 'still there?' })
    expect(ok.events.at(-1)!.value.event).toBe('done')
    const health = await fetch(`${running.url}/healthz`)
    expect(await health.json()).toEqual({ ok: true })
  })
})

describe('clients', () => {
  it('the `eventsource` package (its fetch option doing the POST) receives the same events as sluice’s parser', async () => {
    const url = `${running.url}/chat?delay=5`
    const body = JSON.stringify({ message: 'Same events for everyone' })
    const ours = await postChat(url, body)

    const theirs: Array<Pick<EventSourceMessage, 'event' | 'id' | 'data'>> = []
    await new Promise<void>((resolve, reject) => {
      const es = new EventSource(url, {
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            method: 'POST',
            body,
            headers: { ...init?.headers, 'content-type': 'application/json' },
          }),
      })
      const record = (type: string) => (e: MessageEvent) => {
        theirs.push({ event: type, id: e.lastEventId, data: e.data })
        if (type === 'done') {
          es.close()
          resolve()
        }
      }
      es.addEventListener('token', record('token'))
      es.addEventListener('done', record('done'))
      es.addEventListener('error', (e) => {
        es.close()
        reject(new Error(`eventsource error: ${(e as any).message}`))
      })
    })
    expect(theirs).toEqual(
      ours.events.map((e) => ({ event: e.value.event, id: e.value.id, data: e.value.data })),
    )
  })

  it('a client that disconnects mid-answer aborts the producer within one second, and the model stops', async () => {
    const { chat } = running.app
    const abortedBefore = chat.aborted
    const controller = new AbortController()
    let seen = 0
    const reading = postChat(
      `${running.url}/chat?delay=40&tokens=1000`,
      { message: 'a long answer' },
      {
        signal: controller.signal,
        onEvent: () => {
          if (++seen === 3) controller.abort()
        },
      },
    ).catch((e) => e)
    await waitUntil(() => seen >= 3, 5000)
    const t0 = performance.now()
    await waitUntil(() => chat.aborted > abortedBefore, 1000)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(await reading).toBeInstanceOf(Error)
    // The simulated model produces nothing more.
    const tokensAtStop = chat.tokens
    await sleep(200)
    expect(chat.tokens).toBe(tokensAtStop)
    expect(chat.active).toBe(0)
    expect(running.app.streams.size).toBe(0)
  })

  it('app.close() ends open streams cleanly with a SHUTTING_DOWN error event', async () => {
    const other = await startApp()
    const events: EventSourceMessage[] = []
    const parser = createParser({ onEvent: (e) => events.push(e) })
    const res = await fetch(`${other.url}/chat?delay=50&tokens=1000`, {
      method: 'POST',
      body: '{"message":"hi"}',
    })
    const reader = res.body!.getReader()
    const first = await reader.read()
    parser.feed(first.value!)
    await other.close()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(value)
    }
    expect(events.at(-1)!.event).toBe('error')
    expect(JSON.parse(events.at(-1)!.data).error).toBe('SHUTTING_DOWN')
    expect(other.app.streams.size).toBe(0)
  })
})
