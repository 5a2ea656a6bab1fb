/**
 * `POST /chat` of `sluice serve`, in-process on a loopback port: the answer
 * streamed token by token (SSE and the guide's envelope), the 4xx answers,
 * a third-party client (the `eventsource` package), and a client that leaves.
 */
import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerFor } from '../../src/cli/chat.js'
import { createParser, type EventSourceMessage } from '../../src/protocol/index.js'
import { type RunningApp, serveApp } from '../helpers/serve.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { postChat } from './support.js'

let running: RunningApp

/** The sequence number of an id: `7`, or `<runId>-7` for a resumable run. */
const sequenceOf = (id: string): number => Number(/(\d+)$/.exec(id)?.[1] ?? Number.NaN)
beforeAll(async () => {
  running = await serveApp()
})
afterAll(() => running.close())

describe('POST /chat as SSE', () => {
  it('streams the answer as `token` events with increasing ids, then `done`', async () => {
    const { status, headers, events } = await postChat(`${running.url}/chat?delay=5`, {
      message: 'What is SSE?',
    })
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('text/event-stream')
    const tokens = events.filter((e) => e.value.event === 'token').map((e) => e.value)
    expect(tokens.length).toBeGreaterThan(5)
    // Ids increase token by token (`N`, or `<runId>-N` when the answer is a resumable run).
    const seq = tokens.map((t) => sequenceOf(t.id))
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe(seq[i - 1] + 1)
    expect(tokens.map((t) => t.data).join('')).toBe(answerFor('What is SSE?'))
    const last = events.at(-1)!.value
    expect(last.event).toBe('done')
    expect(JSON.parse(last.data)).toMatchObject({ tokens: tokens.length })
    // Nothing but tokens between the start and the end.
    const names = events.map((e) => e.value.event).filter((n) => n !== 'run')
    expect(names).toEqual([...tokens.map(() => 'token'), 'done'])
  })

  it('is deterministic, and takes `name` or `data` as the guide’s clients send', async () => {
    const tokensOf = async (body: unknown) =>
      (await postChat(`${running.url}/chat?delay=0`, body)).events
        .filter((e) => e.value.event === 'token')
        .map((e) => e.value.data)
    const a = await tokensOf({ name: 'Hello World!' })
    const b = await tokensOf({ data: 'Hello World!' })
    const c = await tokensOf({ message: 'Hello World!' })
    expect(a.join('')).toBe(answerFor('Hello World!'))
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })

  it('takes a body that is not a JSON object as the message text, whatever its content type (the guide’s Java client)', async () => {
    const tokensOf = async (body: string) =>
      (await postChat(`${running.url}/chat?delay=0&mode=chars`, body)).events
        .filter((e) => e.value.event === 'token')
        .map((e) => e.value.data)
        .join('')
    // Sent with Content-Type: application/json, as the guide's HttpStreamClient does.
    expect(await tokensOf('Hello WOrld!')).toBe('Hello WOrld!')
    expect(await tokensOf('"quoted"')).toBe('"quoted"')
    expect(await tokensOf('42')).toBe('42')
    expect(await tokensOf('{"message":"as JSON"}')).toBe('as JSON')
  })

  it('mode=chars&delay=100 echoes the message one character per 100 ms (the guide’s example)', async () => {
    const { events } = await postChat(`${running.url}/chat?mode=chars&delay=100`, {
      name: 'Hello World!',
    })
    const tokens = events.filter((e) => e.value.event === 'token')
    expect(tokens.map((t) => t.value.data)).toEqual([...'Hello World!'])
    // Streamed as produced: about 100 ms apart, not all at the end.
    const spread = tokens.at(-1)!.at - tokens[0].at
    expect(spread).toBeGreaterThan(700)
    // Most arrive on their own (a loaded machine may now and then deliver two in one read).
    const gaps = tokens.slice(1).map((t, i) => t.at - tokens[i].at)
    expect(gaps.filter((g) => g > 50).length).toBeGreaterThanOrEqual(5)
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
    const names = events.map((e) => e.value.event).filter((n) => n !== 'run')
    expect(names.slice(0, 4)).toEqual(['token', 'token', 'token', 'error'])
    // A resumable run adds its final `done` (reason `error`); nothing else may follow.
    expect(names.slice(4).every((n) => n === 'done')).toBe(true)
    const error = JSON.parse(events.find((e) => e.value.event === 'error')!.value.data)
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
    await expectError({ body: '' }, 400, 'MISSING_MESSAGE')
    await expectError({ body: '  \n' }, 400, 'MISSING_MESSAGE')
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
    // OPTIONS is the CORS preflight (answered for the origins given with --cors-origin).
    expect(wrong.headers.get('allow')).toBe('POST, OPTIONS')
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
    // The same response read both ways: the body is teed, one branch to each parser.
    const ours: Array<Pick<EventSourceMessage, 'event' | 'id' | 'data'>> = []
    const theirs: Array<Pick<EventSourceMessage, 'event' | 'id' | 'data'>> = []
    await new Promise<void>((resolve, reject) => {
      const es = new EventSource(url, {
        fetch: async (input, init) => {
          const res = await fetch(input, {
            ...init,
            method: 'POST',
            body,
            headers: { ...init?.headers, 'content-type': 'application/json' },
          })
          const [forThem, forUs] = res.body!.tee()
          const parser = createParser({
            onEvent: (e) => ours.push({ event: e.event || 'message', id: e.id, data: e.data }),
          })
          // Ends with an abort when the EventSource is closed.
          void (async () => {
            for await (const chunk of forUs as unknown as AsyncIterable<Uint8Array>) {
              parser.feed(chunk)
            }
          })().catch(() => {})
          return {
            body: forThem,
            url: res.url,
            status: res.status,
            redirected: res.redirected,
            headers: res.headers,
          }
        },
      })
      const record = (type: string) => (e: MessageEvent) => {
        theirs.push({ event: type, id: e.lastEventId, data: e.data })
        if (type === 'done') {
          es.close()
          resolve()
        }
      }
      for (const type of ['message', 'run', 'token', 'error'])
        es.addEventListener(type, record(type))
      es.addEventListener('done', record('done'))
      es.addEventListener('error', (e) => {
        if ((e as MessageEvent).data !== undefined) return // an `event: error` from the server
        es.close()
        reject(new Error(`eventsource error: ${(e as any).message}`))
      })
    })
    await waitUntil(() => ours.some((e) => e.event === 'done'), 5000)
    expect(theirs.filter((e) => e.event === 'token').length).toBeGreaterThan(5)
    expect(theirs).toEqual(ours)
  })

  it('a client that disconnects mid-answer aborts the producer within one second, and the model stops', async () => {
    const { chat } = running.app
    const abortedBefore = chat.aborted
    const controller = new AbortController()
    let seen = 0
    const reading = postChat(
      // stopOnDisconnect=0: no resume is coming, so leaving stops the answer at once
      // (a resumable run otherwise outlives its connection; see docs/runs.md).
      `${running.url}/chat?delay=40&tokens=1000&stopOnDisconnect=0`,
      { message: 'a long answer' },
      {
        signal: controller.signal,
        onEvent: () => {
          if (++seen === 3) controller.abort()
        },
      },
    ).catch((e) => e)
    await waitUntil(() => seen >= 3, 5000)
    const abortMs = await waitUntil(() => chat.aborted > abortedBefore, 5000, 'the model abort')
    expect(abortMs).toBeLessThan(1000)
    expect(await reading).toBeInstanceOf(Error)
    // The simulated model produces nothing more.
    const tokensAtStop = chat.tokens
    await sleep(200) // a bounded quiet wait: no token may follow
    expect(chat.tokens).toBe(tokensAtStop)
    expect(chat.active).toBe(0)
    expect(running.app.streams.size).toBe(0)
  })

  it('app.close() ends a chat stream cleanly with its done {"reason":"lost"} (issue 16: it was a bare SHUTTING_DOWN)', async () => {
    const other = await serveApp()
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
    expect(events.at(-1)!.event).toBe('done')
    expect(JSON.parse(events.at(-1)!.data).reason).toBe('lost')
    expect(other.app.streams.size).toBe(0)
  })
})
