/**
 * Run ids name their run (`<runId>:<n>`), so a starting request that carries
 * one as Last-Event-ID (a spec client re-sending its POST after a cut or
 * after the end) continues that run instead of starting another, and gets
 * 204 once it has the final event. An idempotency key does the same for
 * POSTs without ids. For every app using `runs.run()`, Web and node:http.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/hub/memory-store.js'
import { createRuns, type RunProducer, type Runs } from '../../src/runs/index.js'
import { parseRunEventId, resumePoint } from '../../src/runs/log.js'
import { listenLoopback } from '../helpers/http.js'
import { readEvents } from '../helpers/sse.js'

const made: Runs[] = []
const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) s.close()
  for (const r of made) {
    await r.close()
    await r.store.close()
  }
})

function runsOn(): Runs {
  const r = createRuns(memoryStore())
  made.push(r)
  return r
}

/** A producer that counts its starts. */
function counted(words: string[]): { producer: RunProducer; starts: () => number } {
  let starts = 0
  return {
    starts: () => starts,
    producer: async function* () {
      starts++
      for (const w of words) yield w
    },
  }
}

const post = (headers: Record<string, string> = {}) =>
  new Request('http://app.test/chat', { method: 'POST', headers, body: '{"message":"hi"}' })

describe('run event ids', () => {
  it('name their run and number; a bare number or another run id is told apart', () => {
    expect(parseRunEventId('abc_-9:12')).toEqual({ runId: 'abc_-9', n: 12 })
    expect(parseRunEventId('abc')).toBeNull()
    expect(parseRunEventId('lq3xkz0v1a-17')).toBeNull() // a hub id
    expect(parseRunEventId('a:b:1')).toBeNull()
    expect(resumePoint('r1:4', 'r1')).toBe(4)
    expect(resumePoint('4', 'r1')).toBe(4)
    expect(resumePoint('', 'r1')).toBe(-1)
    expect(() => resumePoint('r2:4', 'r1')).toThrow(/run r2, not of run r1/)
  })
})

describe('a re-sent POST continues its run (Web)', () => {
  it('with a run id as Last-Event-ID: the rest of that run, no new one; 204 after the final event', async () => {
    const h = runsOn()
    const { producer, starts } = counted(['a ', 'b ', 'c'])
    const first = await readEvents(await h.run(post(), producer))
    const runId = first[0]!.id.split(':')[0]!
    expect(first.map((e) => e.id)).toEqual([0, 1, 2, 3, 4].map((n) => `${runId}:${n}`))
    // A cut after `a `: the client re-sends its POST with the last id it has.
    const again = await h.run(post({ 'last-event-id': `${runId}:1` }), producer)
    expect(again.status).toBe(200)
    expect(again.headers.get('sluice-run-id')).toBe(runId)
    expect(again.headers.get('sluice-resume-url')).toBe(`/chat/${runId}`)
    const rest = await readEvents(again)
    expect(rest.map((e) => [e.id, e.data])).toEqual([
      [`${runId}:2`, 'b '],
      [`${runId}:3`, 'c'],
      [`${runId}:4`, '{"reason":"complete"}'],
    ])
    // After the final event: 204, which every spec client takes as "stop".
    const end = await h.run(post({ 'last-event-id': `${runId}:4` }), producer)
    expect(end.status).toBe(204)
    // Comma-joined values (sse.js with a static header): the last well-formed one.
    const joined = await h.run(post({ 'last-event-id': `${runId}:1, ${runId}:3` }), producer)
    expect((await readEvents(joined)).map((e) => e.id)).toEqual([`${runId}:4`])
    // ?lastEventId= too.
    const q = new Request(`http://app.test/chat?lastEventId=${runId}:4`, { method: 'POST' })
    expect((await h.run(q, producer)).status).toBe(204)
    expect(starts()).toBe(1)
    expect(h.metrics.started).toBe(1)
    // A POST without a run id (none, or an id of something else) starts a run.
    const others: Record<string, string>[] = [
      {},
      { 'last-event-id': 'lq3xkz0v1a-17' },
      { 'last-event-id': '4' },
    ]
    for (const headers of others) {
      const res = await h.run(post(headers), producer)
      expect(res.headers.get('sluice-run-id')).not.toBe(runId)
      await readEvents(res)
    }
    expect(starts()).toBe(4)
  })

  it("an unknown run's id is a 404, never a new run", async () => {
    const h = runsOn()
    const { producer, starts } = counted(['x'])
    const res = await h.run(post({ 'last-event-id': 'gone:3' }), producer)
    expect(res.status).toBe(404)
    expect((await res.json()).error).toBe('RUN_NOT_FOUND')
    expect(starts()).toBe(0)
  })

  it("the resume URL refuses another run's id (400)", async () => {
    const h = runsOn()
    const { producer } = counted(['x'])
    const res = await h.run(post(), producer)
    const runId = res.headers.get('sluice-run-id')!
    await readEvents(res)
    const get = new Request(`http://app.test/chat/${runId}`, {
      headers: { 'last-event-id': 'other:1' },
    })
    const bad = await h.resume(get, runId)
    expect(bad.status).toBe(400)
    expect((await bad.json()).error).toBe('BAD_REQUEST')
  })

  it('an idempotency key: the same key continues the run it started, from the start or its id', async () => {
    const h = runsOn()
    const { producer, starts } = counted(['a ', 'b'])
    const key = 'user-7:msg-1'
    const first = await h.run(post(), producer, { idempotencyKey: key })
    const runId = first.headers.get('sluice-run-id')!
    expect(runId).toMatch(/^[0-9a-f]{32}$/)
    const all = await readEvents(first)
    const replay = await readEvents(await h.run(post(), producer, { idempotencyKey: key }))
    expect(replay).toEqual(all)
    const after = await h.run(post({ 'last-event-id': `${runId}:1` }), producer, {
      idempotencyKey: key,
    })
    expect((await readEvents(after)).map((e) => e.data)).toEqual(['b', '{"reason":"complete"}'])
    const other = await h.run(post(), producer, { idempotencyKey: 'user-7:msg-2' })
    expect(other.headers.get('sluice-run-id')).not.toBe(runId)
    await readEvents(other)
    expect(starts()).toBe(2)
    // With an owner the key is theirs: another owner's same key is another run, bound to them.
    const mine = await h.run(post(), producer, { idempotencyKey: key, owner: 'ann' })
    const owned = mine.headers.get('sluice-run-id')!
    expect(owned).toMatch(/^[0-9a-f]{32}-[A-Za-z0-9_-]{22}$/)
    await readEvents(mine)
    const theirs = await h.run(post(), producer, { idempotencyKey: key, owner: 'bob' })
    expect(theirs.headers.get('sluice-run-id')).not.toBe(owned)
    await readEvents(theirs)
    // Bob re-sending with Ann's run id is refused (403), not served Ann's run.
    const forged = await h.run(post({ 'last-event-id': `${owned}:0` }), producer, { owner: 'bob' })
    expect(forged.status).toBe(403)
    expect(starts()).toBe(4)
  })
})

describe('a re-sent POST continues its run (node:http)', () => {
  it('resumes, then 204; one run', async () => {
    const h = runsOn()
    const { producer, starts } = counted(['p ', 'q'])
    const server = createServer((req, res) => void h.run(req, res, producer))
    servers.push(server)
    const { url } = await listenLoopback(server)
    const send = (headers: Record<string, string> = {}) =>
      fetch(`${url}/ask`, { method: 'POST', headers, body: 'hi' })
    const first = await readEvents(await send())
    const last = first.at(-1)!.id
    const runId = last.split(':')[0]!
    const rest = await send({ 'last-event-id': `${runId}:1` })
    expect(rest.headers.get('sluice-resume-url')).toBe(`/ask/${runId}`)
    expect((await readEvents(rest)).map((e) => e.data)).toEqual(['q', '{"reason":"complete"}'])
    expect((await send({ 'last-event-id': last })).status).toBe(204)
    expect(starts()).toBe(1)
  })
})
