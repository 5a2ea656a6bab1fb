/**
 * `runs.run()` as a library: make a streaming route resumable in a few lines,
 * on Web `Request`/`Response` (Hono, Bun, Deno, Workers) and on node:http.
 * Plus the edges: a producer's error, 204 after the end, 404 and 400, stop on
 * disconnect, shutdown, and memory: 10,000 finished runs expire after their
 * TTL and the store returns to its baseline.
 */
import { createServer, type Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/hub/memory-store.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { createRuns, type Runs, type RunsOptions } from '../../src/runs/index.js'
import { runTopic } from '../../src/runs/log.js'
import type { Store } from '../../src/hub/store.js'
import { events } from '../../src/client/index.js'
import { SluiceError, type SluiceErrorCode } from '../../src/protocol/errors.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis } from '../helpers/redis.js'
import { listenLoopback } from '../helpers/http.js'
import { readEvents } from '../helpers/sse.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { pool } from './support.js'

const made: Runs[] = []
const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) s.close()
  for (const r of made) {
    await r.close()
    await r.store.close()
  }
})
/** Runs over `store` (default: a memory store of their own), closed after the tests. */
function runsOn(store: Store = memoryStore(), options: RunsOptions = {}): Runs {
  const r = createRuns(store, options)
  made.push(r)
  return r
}

describe('Web Request/Response', () => {
  it('an async generator becomes a resumable run: replay after Last-Event-ID, 204 after the end', async () => {
    const h = runsOn()
    // The whole route, e.g. in Hono: app.post('/chat', (c) => runs.run(c.req.raw, answer))
    async function* answer() {
      for (const word of ['Hello ', 'from ', 'a ', 'run']) yield word
    }
    const res = await h.run(new Request('http://app.test/chat', { method: 'POST' }), answer)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const resumeUrl = res.headers.get('sluice-resume-url')!
    const runId = res.headers.get('sluice-run-id')!
    expect(resumeUrl).toBe(`/chat/${runId}`)
    expect(res.headers.get('access-control-expose-headers')).toContain('Sluice-Resume-Url')
    const all = await readEvents(res)
    expect(all.map((e) => [e.id, e.event, e.data])).toEqual([
      [`${runId}:0`, 'run', JSON.stringify({ runId, resumeUrl })],
      [`${runId}:1`, 'token', 'Hello '],
      [`${runId}:2`, 'token', 'from '],
      [`${runId}:3`, 'token', 'a '],
      [`${runId}:4`, 'token', 'run'],
      [`${runId}:5`, 'done', '{"reason":"complete"}'],
    ])
    // app.get('/chat/:id', (c) => runs.resume(c.req.raw, c.req.param('id')))
    const resume = (lastEventId?: string) =>
      h.resume(
        new Request(`http://app.test${resumeUrl}`, {
          headers: lastEventId ? { 'last-event-id': lastEventId } : {},
        }),
        runId,
      )
    const rest = await readEvents(await resume(`${runId}:2`))
    expect(rest.map((e) => e.id)).toEqual([`${runId}:3`, `${runId}:4`, `${runId}:5`])
    // ?lastEventId= works too (for EventSource-less clients).
    const q = await h.resume(
      new Request(`http://app.test${resumeUrl}?lastEventId=${runId}:4`),
      runId,
    )
    expect((await readEvents(q)).map((e) => e.id)).toEqual([`${runId}:5`])
    expect((await resume(`${runId}:5`)).status).toBe(204)
    // A bare number (ids before they named their run) still resumes on the resume URL.
    expect((await readEvents(await resume('4'))).map((e) => e.id)).toEqual([`${runId}:5`])
    expect((await resume()).status).toBe(200) // a page reload without an id replays it all
    const bad = await resume('not-an-id')
    expect(bad.status).toBe(400)
    expect((await bad.json()).error).toBe('BAD_REQUEST')
    const missing = await h.resume(new Request('http://app.test/chat/nope'), 'nope')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: 'RUN_NOT_FOUND' })
    // app.delete('/chat/:id', (c) => runs.stopRun(c.req.raw, c.req.param('id')))
    const stop = await h.stopRun(new Request(`http://app.test${resumeUrl}`), runId)
    expect(await stop.json()).toEqual({ runId, reason: 'complete', stopped: false })
  })

  it("a producer's error ends the run with `event: error` then done/error, for every reader", async () => {
    const h = runsOn()
    const res = await h.run(
      new Request('http://app.test/jobs', { method: 'POST' }),
      async (run) => {
        await run.send('partial ')
        // An application's own code: outside sluice's closed union, so named by a cast.
        throw new SluiceError(
          'QUOTA' as SluiceErrorCode,
          'The model quota is used up; try again tomorrow.',
        )
      },
    )
    const evs = await readEvents(res)
    expect(evs.map((e) => e.event)).toEqual(['run', 'token', 'error', 'done'])
    expect(JSON.parse(evs[2].data)).toEqual({
      error: 'QUOTA',
      message: 'The model quota is used up; try again tomorrow.',
    })
    expect(JSON.parse(evs[3].data)).toEqual({ reason: 'error' })
    // Internal errors are not shown to users.
    const res2 = await h.run(new Request('http://app.test/jobs', { method: 'POST' }), () => {
      throw new Error('ECONNRESET at db.internal:5432')
    })
    const evs2 = await readEvents(res2)
    expect(JSON.parse(evs2[1].data).error).toBe('RUN_FAILED')
    expect(evs2[1].data).not.toContain('db.internal')
  })

  it('refuses reserved event names and sends JSON for objects', async () => {
    const h = runsOn()
    let refused: unknown
    const res = await h.run(new Request('http://app.test/x', { method: 'POST' }), async (run) => {
      await run.send({ event: 'delta', data: { text: 'hi' } })
      refused = await run.send({ event: 'done', data: 'fake end' }).catch((e) => e)
      await run.complete({ usage: 3 })
    })
    const evs = await readEvents(res)
    expect(evs.slice(1).map((e) => [e.event, e.data])).toEqual([
      ['delta', '{"text":"hi"}'],
      ['done', '{"reason":"complete","usage":3}'],
    ])
    expect((refused as SluiceError).code).toBe('INVALID_ARGUMENT')
  })
})

describe('the docs/runs.md example: a Hono LLM route made resumable', () => {
  it('streams, resumes after a reload with the id it had, and DELETE aborts the model', async () => {
    const runs = runsOn()
    let modelSignal: AbortSignal | undefined
    // A stand-in for `openai.chat.completions.create(..., { signal })`: one word per 20 ms.
    async function* llm(message: string, { signal }: { signal: AbortSignal }) {
      modelSignal = signal
      for (let i = 0; i < 200; i++) {
        await sleep(20)
        signal.throwIfAborted()
        yield `${message}-${i} `
      }
    }
    const app = new Hono()
    app.post('/chat', async (c) => {
      const { message } = await c.req.json()
      return runs.run(c.req.raw, async function* (_run, signal) {
        for await (const token of llm(message, { signal })) yield token
      })
    })
    app.get('/chat/:id', (c) => runs.resume(c.req.raw, c.req.param('id')))
    app.delete('/chat/:id', (c) => runs.stopRun(c.req.raw, c.req.param('id')))
    const server = await new Promise<Server>((r) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s as Server))
    })
    servers.push(server)
    const addr = server.address()
    const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`

    // First page: read 5 tokens, remember where we were, "reload".
    const res = await fetch(`${base}/chat`, { method: 'POST', body: '{"message":"w"}' })
    const resumeUrl = base + res.headers.get('sluice-resume-url')!
    const first = await readEvents(res, (_e, all) => all.length === 6)
    // Next page: resume with the last id, read 5 more, then stop the run.
    const got = first.filter((e) => e.event === 'token').map((e) => e.data)
    for await (const e of events(resumeUrl, { lastEventId: first.at(-1)!.id })) {
      if (e.event === 'token') got.push(e.data)
      if (got.length === 10) await fetch(resumeUrl, { method: 'DELETE' })
      if (e.event === 'done') {
        expect(JSON.parse(e.data)).toEqual({ reason: 'stopped' })
        break
      }
    }
    expect(modelSignal!.aborted).toBe(true)
    expect(got.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `w-${i} `))
    expect(got).toEqual(got.map((_, i) => `w-${i} `))
  })
})

describe('node:http', () => {
  async function serve(h: Runs, stopOnDisconnect: boolean) {
    const signals: AbortSignal[] = []
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (req.method === 'POST' && url.pathname === '/ask') {
        void h.run(
          req,
          res,
          async (run, signal) => {
            signals.push(signal)
            for (let i = 0; i < 500 && !signal.aborted; i++) {
              await sleep(10)
              await run.send(`t${i} `).catch(() => {})
            }
          },
          { stopOnDisconnect },
        )
      } else if (req.method === 'GET') void h.resume(req, res, url.pathname.split('/').pop()!)
      else if (req.method === 'DELETE') void h.stopRun(req, res, url.pathname.split('/').pop()!)
    })
    servers.push(server)
    return { url: (await listenLoopback(server)).url, signals }
  }

  it('by default a disconnect leaves the run going; with stopOnDisconnect it stops when nobody follows', async () => {
    for (const stopOnDisconnect of [false, true]) {
      const h = runsOn()
      const { url, signals } = await serve(h, stopOnDisconnect)
      const ac = new AbortController()
      const res = await fetch(`${url}/ask`, { method: 'POST', signal: ac.signal })
      expect(res.headers.get('sluice-resume-url')).toMatch(/^\/ask\/[a-z0-9]+$/)
      await readEvents(res, (_e, all) => all.length === 3)
      ac.abort()
      if (stopOnDisconnect) {
        await waitUntil(() => signals[0].aborted, 1000, 'the producer stopping')
        expect(h.active).toBe(0)
      } else {
        await sleep(300) // a bounded quiet wait: no abort may come
        expect(signals[0].aborted).toBe(false)
        expect(h.active).toBe(1)
      }
    }
  })

  it('closing the hub ends its runs: followers get done/lost, producers their abort', async () => {
    const h = createRuns(memoryStore())
    const { url, signals } = await serve(h, false)
    const res = await fetch(`${url}/ask`, { method: 'POST' })
    const arrived: string[] = []
    const reading = readEvents(res, (e) => {
      arrived.push(e.event)
      return false
    })
    // The hub closes under a run that is under way: its first token is out.
    await waitUntil(() => signals.length === 1 && arrived.includes('token'))
    await h.close()
    const evs = await reading
    expect(evs.at(-1)!.event).toBe('done')
    expect(JSON.parse(evs.at(-1)!.data)).toMatchObject({ reason: 'lost' })
    expect(signals[0].aborted).toBe(true)
  })
})

/** Heap in use after a full GC (V8's gc exposed at run time; Bun's own on Bun). */
function heapAfterGc(): number {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun
  if (bun) {
    bun.gc(true)
    return process.memoryUsage().heapUsed
  }
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

describe('memory: finished runs expire after their TTL', () => {
  it('10,000 finished runs are all gone after the TTL and the heap returns to its baseline', async () => {
    const store = memoryStore()
    const h = runsOn(store, { ttl: 300 })
    const N = 10_000
    /** Whether every run of `ids` has expired from the store. */
    const expired = async (ids: string[]) =>
      (await Promise.all(ids.map((id) => store.info(runTopic(id))))).every((i) => i === null)
    // Warm up (JIT, pools), then take the baseline once the warm-up runs have expired.
    const warm = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const run = await h.start(async function* () {})
        await run.ended
        return run.runId
      }),
    )
    await waitUntil(() => expired(warm), 5000, 'the warm-up runs to expire')
    const baseline = heapAfterGc()
    const ids = await pool(
      Array.from({ length: N }, (_, i) => i),
      500,
      async (i) => {
        const run = await h.start(async function* () {
          yield `answer ${i} `.repeat(8)
          yield 'done '.repeat(8)
        })
        expect(await run.ended).toBe('complete')
        return run.runId
      },
    )
    const peak = heapAfterGc()
    expect(await store.info(runTopic(ids[0]))).not.toBeNull()
    expect(await store.info(runTopic(ids[N - 1]))).not.toBeNull()
    expect(h.active).toBe(0)
    await sleep(400) // time passes: the TTL (300 ms) and a margin
    expect(await expired(ids)).toBe(true)
    const after = heapAfterGc()
    const mb = (n: number) => (n / 1048576).toFixed(1)
    console.info(
      `10,000 runs, heap after GC (MB): baseline ${mb(baseline)}, all finished ${mb(peak)}, after TTL ${mb(after)}`,
    )
    // The runs held megabytes; after the TTL the heap is back near where it started.
    expect(peak - baseline).toBeGreaterThan(4 * 1024 * 1024)
    expect(after - baseline).toBeLessThan((peak - baseline) / 5)
  }, 30_000)
})

describeExternal(['redis-server'], 'Redis: lease and TTL', () => {
  it('a producer that is quiet for several leases is kept alive by its lease, not reported lost', async () => {
    const redis = await startRedis()
    const a = createRuns(await redisStore({ url: redis.url }), { lease: 300 })
    const b = createRuns(await redisStore({ url: redis.url }), { lease: 300 })
    try {
      // A slow model: 1.2 s (4 leases) before each of two tokens.
      const run = await a.start(async (r, signal) => {
        for (const t of ['slow ', 'answer']) {
          await sleep(1200)
          if (signal.aborted) return
          await r.send(t)
        }
      })
      const res = await b.resume(new Request(`http://node-b.test/chat/${run.runId}`), run.runId)
      const evs = await readEvents(res)
      expect(evs.map((e) => e.event)).toEqual(['run', 'token', 'token', 'done'])
      expect(JSON.parse(evs.at(-1)!.data)).toEqual({ reason: 'complete' })
    } finally {
      await a.close()
      await a.store.close()
      await b.close()
      await b.store.close()
      await redis.stop()
    }
  }, 30_000)

  it('a follower whose store goes away is not left hanging: its stream ends so the client reconnects', async () => {
    const redis = await startRedis()
    const a = createRuns(await redisStore({ url: redis.url }), { lease: 300 })
    const b = createRuns(await redisStore({ url: redis.url }), { lease: 300 })
    try {
      const run = await a.start(async (r, signal) => {
        while (!signal.aborted) {
          await sleep(50)
          await r.send('tick ')
        }
      })
      const res = await b.resume(new Request(`http://node-b.test/chat/${run.runId}`), run.runId)
      let tokens = 0
      const reading = readEvents(res, (e) => {
        if (e.event === 'token') tokens++
        return false
      })
      // The follower is following: tokens have come through Redis.
      await waitUntil(() => tokens >= 3, 5000, 'tokens through Redis')
      const t0 = Date.now()
      redis.proc.proc.kill('SIGKILL')
      const evs = await reading
      expect(Date.now() - t0).toBeLessThan(10_000)
      expect(evs.filter((e) => e.event === 'token').length).toBeGreaterThan(0)
      expect(evs.map((e) => e.event)).not.toContain('done') // no verdict: the run may well go on
    } finally {
      // Closing stores whose Redis is gone waits out ioredis' retries: do not hold the test for it.
      void a
        .close()
        .then(() => a.store.close())
        .catch(() => {})
      void b
        .close()
        .then(() => b.store.close())
        .catch(() => {})
      await redis.stop()
    }
  }, 30_000)

  it('2,000 finished runs leave no key behind once their TTL passes', async () => {
    const redis = await startRedis()
    try {
      const store = await redisStore({ url: redis.url })
      const h = createRuns(store, { ttl: 3000 })
      const { Redis } = await import('ioredis')
      const probe = new Redis(redis.url)
      try {
        await store.append('warm-up', { data: 'x' })
        await store.delete('warm-up')
        const baseline = await probe.dbsize() // the epoch and the sequence keys
        const N = 2000
        await pool(
          Array.from({ length: N }, (_, i) => i),
          200,
          async (i) => {
            const run = await h.start(async (r) => {
              await r.send(`answer ${i}`)
            })
            await run.ended
          },
        )
        expect(await probe.dbsize()).toBeGreaterThan(baseline + N / 2)
        await waitUntil(async () => (await probe.dbsize()) === baseline, 10_000, 'keys expiring')
        expect(await probe.dbsize()).toBe(baseline)
      } finally {
        probe.disconnect()
        await h.close()
        await store.close()
      }
    } finally {
      await redis.stop()
    }
  }, 60_000)
})
