/**
 * `DELETE /chat/:runId` mid-answer: the producer's signal aborts within one
 * second, every follower gets the final `done` `{"reason":"stopped"}`, and a
 * later resume gets the whole answer up to the stop plus that final event.
 * On one node (memory), and on Redis with the DELETE sent to the other node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventSourceMessage } from '../../src/protocol/index.js'
import { describeExternal } from '../helpers/external.js'
import { readEvents } from '../helpers/sse.js'
import { sleep, waitUntil } from '../helpers/wait.js'
import { type Node, nodesOnRedis, postChat, startNode } from './support.js'

async function stopMidAnswer(producer: Node, other: Node): Promise<void> {
  const stats = producer.app.chat
  const abortedBefore = stats.aborted
  const res = await postChat(producer.url, 'delay=30&tokens=2000', 'stop me')
  const resumeUrl = res.headers.get('sluice-resume-url')!
  const seen: EventSourceMessage[][] = [[], [], []]
  const ends: number[] = []
  const follow = (r: Response, i: number) =>
    readEvents(r, (e) => {
      seen[i].push(e)
      if (e.event === 'done') ends[i] = Date.now()
      return false
    })
  // The POST's own stream, a follower on the same node, one on the other node.
  const readers = [
    follow(res, 0),
    follow(await fetch(producer.url + resumeUrl), 1),
    follow(await fetch(other.url + resumeUrl, { headers: { 'last-event-id': '2' } }), 2),
  ]
  await waitUntil(() => seen.every((s) => s.filter((e) => e.event === 'token').length >= 8), 10_000)

  const t0 = Date.now()
  const del = await fetch(other.url + resumeUrl, { method: 'DELETE' })
  expect(del.status).toBe(200)
  expect(await del.json()).toMatchObject({ reason: 'stopped', stopped: true })
  await waitUntil(() => stats.aborted > abortedBefore, 5000, "the producer's signal aborting")
  const abortMs = Date.now() - t0
  console.info(
    `DELETE (${producer === other ? 'same node' : 'other node'}): producer aborted after ${abortMs} ms`,
  )
  expect(abortMs).toBeLessThan(1000)
  const tokensAtStop = stats.tokens
  const all = await Promise.all(readers)
  for (const evs of all) {
    expect(evs.at(-1)!.event).toBe('done')
    expect(JSON.parse(evs.at(-1)!.data)).toEqual({ reason: 'stopped' })
    expect(evs.filter((e) => e.event === 'done')).toHaveLength(1)
  }
  for (const end of ends) expect(end - t0).toBeLessThan(2000)
  // The model produces nothing more.
  await sleep(150) // a bounded quiet wait: no token may follow
  expect(stats.tokens).toBe(tokensAtStop)
  expect(producer.app.chat.active).toBe(0)

  // Everyone saw the same answer (as far as each started), ending at the same final event.
  // Each stream's first block carries its retry: compare the events without it.
  const tokensOf = (evs: EventSourceMessage[]) =>
    evs.filter((e) => e.event === 'token').map(({ retry: _retry, ...e }) => e)
  const tokens = tokensOf(all[0])
  expect(tokensOf(all[1])).toEqual(tokens)
  expect(tokensOf(all[2])).toEqual(tokens.slice(2))
  expect(new Set(all.map((evs) => evs.at(-1)!.id)).size).toBe(1)

  // A later resume from the start: the full answer up to the stop, then the final event.
  const later = await readEvents(await fetch(other.url + resumeUrl))
  expect(later.map((e) => e.event)).toEqual(['run', ...tokens.map(() => 'token'), 'done'])
  expect(tokensOf(later)).toEqual(tokens)
  expect(later.at(-1)).toEqual(all[0].at(-1))
  // Stopping again says how it ended; an unknown run is a 404 with a JSON body.
  const again = await fetch(producer.url + resumeUrl, { method: 'DELETE' })
  expect(await again.json()).toMatchObject({ reason: 'stopped', stopped: false })
  const missing = await fetch(`${producer.url}/chat/no-such-run`, { method: 'DELETE' })
  expect(missing.status).toBe(404)
  expect(await missing.json()).toMatchObject({ error: 'RUN_NOT_FOUND' })
}

describe('DELETE mid-answer on one node (memory store)', () => {
  let node: Node
  beforeAll(async () => {
    node = await startNode()
  })
  afterAll(() => node.close())

  it('aborts the producer within 1 s and ends every follower with done/stopped', async () => {
    await stopMidAnswer(node, node)
  }, 30_000)

  it('a client that merely disconnects does not stop the run; it can be resumed to the end', async () => {
    const res = await postChat(node.url, 'delay=5&tokens=80', 'keep going')
    const resumeUrl = res.headers.get('sluice-resume-url')!
    const first = await readEvents(res, (_e, all) => all.length === 6)
    const started = node.app.chat.aborted
    await sleep(100) // a bounded quiet wait: the disconnect may not abort the model
    const rest = await readEvents(
      await fetch(node.url + resumeUrl, { headers: { 'last-event-id': first.at(-1)!.id } }),
    )
    expect(node.app.chat.aborted).toBe(started)
    const tokens = [...first, ...rest].filter((e) => e.event === 'token')
    const runId = res.headers.get('sluice-run-id')!
    expect(tokens.map((t) => t.id)).toEqual(tokens.map((_, i) => `${runId}:${i + 1}`))
    expect(tokens).toHaveLength(80)
    expect(JSON.parse(rest.at(-1)!.data)).toEqual({ reason: 'complete', tokens: 80 })
  })
})

describeExternal(['redis-server'], 'DELETE on the other node (Redis)', () => {
  const nodes = nodesOnRedis()

  it('a DELETE on node B aborts the producer on node A within 1 s; every follower gets the final event', async () => {
    const { a, b } = nodes()
    await stopMidAnswer(a, b)
  }, 30_000)
})
