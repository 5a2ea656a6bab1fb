/**
 * Chaos: 100 chat runs, each read through a TCP proxy that cuts the client's
 * connection every 20-80 tokens. `sluice/client` resumes each run by GETting
 * its `Sluice-Resume-Url` with Last-Event-ID; every reassembled answer must
 * equal the answer read without interruption, token for token, no duplicate.
 * Once on the memory store (one node), once on Redis with every resume landing
 * on the other node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { events } from '../../src/client/index.js'
import type { EventSourceMessage } from '../../src/protocol/index.js'
import { describeExternal } from '../helpers/external.js'
import { readEvents } from '../helpers/sse.js'
import { type Node, pool, postChat, startChaosProxy, startNode, nodesOnRedis } from './support.js'

const RUNS = 100
const TOKENS = 200
const QUERY = `delay=2&tokens=${TOKENS}`

/** The answer read straight from a node, no proxy, no cut. */
async function uninterrupted(node: Node, message: string): Promise<string[]> {
  const evs = await readEvents(await postChat(node.url, `delay=0&tokens=${TOKENS}`, message))
  expect(evs.at(-1)!.event).toBe('done')
  return evs.filter((e) => e.event === 'token').map((e) => e.data)
}

interface Result {
  tokens: EventSourceMessage[]
  done: EventSourceMessage | undefined
  cuts: number
  connections: number[]
}

/** One run through its own chaos proxy (its own connection pool), read with sluice's `events()`. */
async function chaoticRun(message: string, target: (n: number) => number): Promise<Result> {
  const proxy = await startChaosProxy(target)
  const tokens: EventSourceMessage[] = []
  let done: EventSourceMessage | undefined
  try {
    for await (const ev of events(`${proxy.url}/chat?${QUERY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
      retry: { initialDelay: 20, maxDelay: 200, maxRetries: 50 },
    })) {
      if (ev.event === 'token') tokens.push(ev)
      if (ev.event === 'done') done = ev
    }
  } finally {
    await proxy.close()
  }
  return { tokens, done, cuts: proxy.cuts, connections: proxy.connections }
}

function checkRun(result: Result, expected: string[]): void {
  // No duplicate, no gap: a run numbers its events (0 is the `run` event), so the tokens are
  // <runId>:1..N, all of one run.
  const runId = result.tokens[0]!.id.split(':')[0]
  expect(result.tokens.map((t) => t.id)).toEqual(expected.map((_, i) => `${runId}:${i + 1}`))
  // Token for token the uninterrupted answer.
  expect(result.tokens.map((t) => t.data)).toEqual(expected)
  expect(JSON.parse(result.done!.data)).toEqual({ reason: 'complete', tokens: TOKENS })
}

describe('chaos on the memory store', () => {
  let node: Node
  beforeAll(async () => {
    node = await startNode()
  })
  afterAll(() => node.close())

  it(`${RUNS} runs cut every 20-80 tokens reassemble exactly, one POST each`, async () => {
    const messages = Array.from({ length: RUNS }, (_, i) => `question ${i}: what is a run?`)
    const expected = await pool(messages, 10, (m) => uninterrupted(node, m))
    const posts0 = node.requests.filter((r) => r === 'POST /chat').length
    const results = await pool(messages, 20, (m) => chaoticRun(m, () => node.port))
    let cuts = 0
    results.forEach((r, i) => {
      checkRun(r, expected[i])
      expect(r.cuts).toBeGreaterThanOrEqual(2) // 200 tokens, a cut at most every 80
      cuts += r.cuts
    })
    console.info(`memory: ${RUNS} runs of ${TOKENS} tokens, ${cuts} cuts, all reassembled exactly`)
    expect(cuts).toBeGreaterThanOrEqual(RUNS * 2)
    // The POST was never sent again: resumes are GETs of the resume URL.
    expect(node.requests.filter((r) => r === 'POST /chat').length - posts0).toBe(RUNS)
    expect(node.requests.filter((r) => r.startsWith('GET /chat/')).length).toBeGreaterThanOrEqual(
      cuts,
    )
    expect(node.app.chat.started - RUNS * 2).toBe(0)
  }, 60_000)
})

describeExternal(['redis-server'], 'chaos on Redis, resumes on the other node', () => {
  const nodes = nodesOnRedis()

  it(`${RUNS} runs started on node A and resumed on node B after each cut reassemble exactly`, async () => {
    const { a, b } = nodes()
    const messages = Array.from({ length: RUNS }, (_, i) => `redis question ${i}`)
    const expected = await pool(messages, 10, (m) => uninterrupted(a, m))
    // The first connection (the POST) goes to A; every later one (the resumes) to B.
    const results = await pool(messages, 20, (m) =>
      chaoticRun(m, (n) => (n === 0 ? a.port : b.port)),
    )
    results.forEach((r, i) => {
      checkRun(r, expected[i])
      expect(r.cuts).toBeGreaterThanOrEqual(2)
      expect(r.connections.slice(1).every((p) => p === b.port)).toBe(true)
    })
    expect(b.requests.filter((r) => r === 'POST /chat')).toHaveLength(0)
    expect(a.requests.filter((r) => r === 'POST /chat')).toHaveLength(RUNS * 2)
    const resumedOnB = b.requests.filter((r) => r.startsWith('GET /chat/')).length
    const cuts = results.reduce((n, r) => n + r.cuts, 0)
    console.info(`redis: ${RUNS} runs, ${cuts} cuts, ${resumedOnB} resumes on node B, all exact`)
    expect(resumedOnB).toBeGreaterThanOrEqual(RUNS * 2)
    // Every answer was generated once, on A.
    expect(a.app.chat.started).toBe(RUNS * 2)
    expect(b.app.chat.started).toBe(0)
  }, 90_000)
})
