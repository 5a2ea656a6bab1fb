/**
 * A run outlives its node: two real `sluice serve --redis` processes, one of
 * them killed with SIGKILL.
 *
 * - Killed after the run's producer has written its last event to Redis: the
 *   other node resumes the run from Last-Event-ID to the end, complete.
 * - Killed while the producer is still writing: the other node's followers are
 *   told the run was lost (`done` `{"reason":"lost"}`) once the dead node's
 *   lease lapses, within a bounded time, never left hanging.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { tokenize } from '../../src/cli/chat.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { runTopic } from '../../src/runs/log.js'
import type { Store } from '../../src/hub/store.js'
import { describeExternal, type Started } from '../helpers/external.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { type SluiceProcess, startSluice } from '../helpers/serve.js'
import { readEvents } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { postChat } from './support.js'

const LEASE = 1000

function startServe(redisUrl: string): Promise<SluiceProcess> {
  return startSluice('serve', ['--redis', redisUrl, '--run-lease', String(LEASE)])
}

describeExternal(['redis-server'], 'runs across sluice serve processes on Redis', () => {
  let redis: RedisServer
  let store: Store
  const procs: Started[] = []
  beforeAll(async () => {
    redis = await startRedis()
    store = await redisStore({ url: redis.url })
  }, 30_000)
  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL')
    await store?.close()
    await redis?.stop()
  })

  it('node A is killed -9 after the producer finished writing: node B resumes the run to the end', async () => {
    const [a, b] = await Promise.all([startServe(redis.url), startServe(redis.url)])
    procs.push(a.proc, b.proc)
    const message = 'survive a node'
    const expected = tokenize({ message, mode: 'words', tokens: 60 })

    // Read the first 10 tokens from A, then drop the connection (the run goes on).
    const res = await postChat(a.url, 'delay=20&tokens=60', message)
    const resumeUrl = res.headers.get('sluice-resume-url')!
    expect(resumeUrl).toMatch(/^\/chat\/[A-Za-z0-9_-]+$/)
    const runId = resumeUrl.split('/').pop()!
    const first = await readEvents(
      res,
      (_e, all) => all.filter((x) => x.event === 'token').length === 10,
    )
    expect(first[0].event).toBe('run')
    expect(JSON.parse(first[0].data)).toEqual({ runId, resumeUrl })
    const lastId = first.at(-1)!.id

    // Wait until the producer has written its terminal event to Redis, then kill A.
    await waitUntil(
      async () =>
        (await store.read([runTopic(runId)], 0)).events.some((e) => e.event?.endsWith(':done')),
      10_000,
      'the run finished writing',
    )
    a.proc.proc.kill('SIGKILL')
    await new Promise((r) => a.proc.proc.once('exit', r))

    const resumed = await fetch(b.url + resumeUrl, { headers: { 'last-event-id': lastId } })
    expect(resumed.status).toBe(200)
    const rest = await readEvents(resumed)
    const tokens = [...first, ...rest].filter((e) => e.event === 'token')
    expect(tokens.map((t) => t.data)).toEqual(expected)
    expect(tokens.map((t) => t.id)).toEqual(expected.map((_, i) => `${runId}:${i + 1}`))
    expect(rest.at(-1)!.event).toBe('done')
    expect(JSON.parse(rest.at(-1)!.data)).toEqual({ reason: 'complete', tokens: 60 })
    // Resuming after the final event: nothing more (204 tells clients to stop reconnecting).
    const after = await fetch(b.url + resumeUrl, { headers: { 'last-event-id': rest.at(-1)!.id } })
    expect(after.status).toBe(204)

    // Runs have their own store: an answer longer than the topics' history (1000) replays whole.
    const long = await postChat(b.url, 'delay=0&tokens=1500', 'a long one')
    const longUrl = long.headers.get('sluice-resume-url')!
    expect((await readEvents(long)).at(-1)!.event).toBe('done')
    const replay = await readEvents(await fetch(b.url + longUrl))
    expect(replay.filter((e) => e.event === 'token')).toHaveLength(1500)
    expect(replay.map((e) => e.event)).not.toContain('error')
  }, 60_000)

  it('node A is killed -9 mid-answer: followers on node B are told the run was lost once its lease lapses', async () => {
    const [a, b] = await Promise.all([startServe(redis.url), startServe(redis.url)])
    procs.push(a.proc, b.proc)
    const res = await postChat(a.url, 'delay=30&tokens=2000', 'a long answer')
    const resumeUrl = res.headers.get('sluice-resume-url')!
    const runId = res.headers.get('sluice-run-id')!
    void res.body?.cancel()

    // Two followers on B, from the start and from the middle.
    const fromStart = await fetch(b.url + resumeUrl)
    const events1: string[] = []
    let lostAt = 0
    const reading1 = readEvents(fromStart, (e) => {
      events1.push(e.event)
      if (e.event === 'done') lostAt = Date.now()
      return false
    })
    await waitUntil(() => events1.filter((e) => e === 'token').length >= 5, 10_000, 'tokens on B')
    const fromMiddle = await fetch(b.url + resumeUrl, {
      headers: { 'last-event-id': `${runId}:3` },
    })
    const reading2 = readEvents(fromMiddle)
    await waitUntil(() => events1.filter((e) => e === 'token').length >= 10, 10_000)

    const killedAt = Date.now()
    a.proc.proc.kill('SIGKILL')
    const [all1, all2] = await Promise.all([reading1, reading2])
    // Bounded: the lease (1 s) plus a check, with a generous margin; both streams ended.
    console.info(
      `run lost: followers told ${lostAt - killedAt} ms after kill -9 (lease ${LEASE} ms)`,
    )
    expect(lostAt - killedAt).toBeLessThan(LEASE * 5)
    for (const evs of [all1, all2]) {
      const last = evs.at(-1)!
      expect(last.event).toBe('done')
      expect(JSON.parse(last.data).reason).toBe('lost')
    }
    expect(all2[0].event).toBe('token')
    expect(all2[0].id).toBe(`${runId}:4`)
    // The same id for the terminal event on both followers, and for a later resume.
    expect(all2.at(-1)!.id).toBe(all1.at(-1)!.id)
    const later = await readEvents(await fetch(b.url + resumeUrl))
    expect(later.at(-1)!.id).toBe(all1.at(-1)!.id)
    expect(JSON.parse(later.at(-1)!.data).reason).toBe('lost')
    expect(later.filter((e) => e.event === 'done')).toHaveLength(1)
  }, 60_000)
})
