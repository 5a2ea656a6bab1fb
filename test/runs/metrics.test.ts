/**
 * Runs in `GET /metrics`: started, ended by reason (complete, stopped, error,
 * lost), resumed, active — read on the wire from `sluice serve`, and from a
 * hub's own handler.
 */
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub } from '../../src/hub/hub.js'
import { memoryStore } from '../../src/hub/memory-store.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { createRuns } from '../../src/runs/index.js'
import type { Store } from '../../src/hub/store.js'
import { describeExternal } from '../helpers/external.js'
import { listenLoopback } from '../helpers/http.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { type Node, startNode } from './support.js'

/** `name{labels} value` lines of a Prometheus text as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

async function metrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/plain')
  return samples(await res.text())
}

async function waitFor(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const t0 = Date.now()
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('runs in GET /metrics of sluice serve', () => {
  let node: Node
  beforeAll(async () => {
    node = await startNode()
  })
  afterAll(() => node.close())

  it('counts runs started, complete, stopped, failed, resumed, and the active ones', async () => {
    const before = await metrics(node.url)
    expect(before.get('sluice_runs_started_total')).toBe(0)
    expect(before.get('sluice_runs_active')).toBe(0)
    // Each sample appears once: the app's runs, in the hub's /metrics.
    const text = await (await fetch(`${node.url}/metrics`)).text()
    expect(text.match(/^sluice_runs_started_total /gm)).toHaveLength(1)

    // One answer read to the end.
    const done = await fetch(`${node.url}/chat?delay=0&tokens=5`, {
      method: 'POST',
      body: '{"message":"hi"}',
    })
    await done.text()
    // One that fails.
    const failed = await fetch(`${node.url}/chat?delay=0&tokens=5&fail=2`, {
      method: 'POST',
      body: '{"message":"hi"}',
    })
    await failed.text()
    // One long one: active while it runs, resumed twice, then stopped.
    const long = await fetch(`${node.url}/chat?delay=20&tokens=1000`, {
      method: 'POST',
      body: '{"message":"hi"}',
    })
    const resumeUrl = long.headers.get('sluice-resume-url')!
    await long.body!.cancel()
    await waitFor(async () => (await metrics(node.url)).get('sluice_runs_active') === 1)
    for (const lastEventId of ['2', '3']) {
      const resumed = await fetch(`${node.url}${resumeUrl}`, {
        headers: { 'last-event-id': lastEventId },
      })
      expect(resumed.status).toBe(200)
      await resumed.body!.cancel()
    }
    const missing = await fetch(`${node.url}/chat/no-such-run`)
    expect(missing.status).toBe(404)
    await fetch(`${node.url}${resumeUrl}`, { method: 'DELETE' })

    await waitFor(async () => (await metrics(node.url)).get('sluice_runs_active') === 0)
    const m = await metrics(node.url)
    expect(m.get('sluice_runs_started_total')).toBe(3)
    expect(m.get('sluice_runs_ended_total{reason="complete"}')).toBe(1)
    expect(m.get('sluice_runs_ended_total{reason="error"}')).toBe(1)
    expect(m.get('sluice_runs_ended_total{reason="stopped"}')).toBe(1)
    expect(m.get('sluice_runs_ended_total{reason="lost"}')).toBe(0)
    // A 404 is not a resume.
    expect(m.get('sluice_runs_resumed_total')).toBe(2)
    expect(m.get('sluice_runs_lost_detected_total')).toBe(0)
  })
})

describe('runs in a hub handler of your own', () => {
  it("hub.handler()'s /metrics shows hub.runs", async () => {
    const hub = createHub()
    // Runs are their own layer: composed with the hub by its store and a metrics section.
    const runs = createRuns(hub.store)
    hub.metrics.addSection('runs', () => runs.metricsText())
    const server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/chat') {
        void runs.run(req, res, async function* () {
          yield 'a'
          yield 'b'
        })
        return
      }
      hub.handler()(req, res)
    })
    const { url } = await listenLoopback(server)
    try {
      await (await fetch(`${url}/chat`, { method: 'POST' })).text()
      const m = await metrics(url)
      expect(m.get('sluice_runs_started_total')).toBe(1)
      expect(m.get('sluice_runs_ended_total{reason="complete"}')).toBe(1)
      expect(m.get('sluice_runs_active')).toBe(0)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await runs.close()
      await hub.close()
    }
  })

  it('a node shutting down ends its runs as lost, and counts them', async () => {
    const runs = createRuns(memoryStore())
    const started = await runs.start(async (_run, signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve))
    })
    expect(runs.metricsText()).toMatch(/^sluice_runs_active 1$/m)
    await runs.close()
    expect(await started.ended).toBe('lost')
    const m = samples(runs.metricsText())
    expect(m.get('sluice_runs_ended_total{reason="lost"}')).toBe(1)
    expect(m.get('sluice_runs_active')).toBe(0)
  })
})

describeExternal(['redis-server'], 'a run lost with its node, on Redis', () => {
  let redis: RedisServer
  let url: string
  beforeAll(async () => {
    redis = await startRedis()
    url = redis.url
  })
  afterAll(() => redis?.stop())

  it('the node whose follower finds the lease lapsed counts sluice_runs_lost_detected_total', async () => {
    const realA = await redisStore({ url, prefix: 'lost-test:' })
    const storeB = await redisStore({ url, prefix: 'lost-test:' })
    // Node A "dies": from now on its writes (events, lease markers, TTL renewals) never land.
    let dead = false
    const storeA = new Proxy(realA, {
      get(target, prop, receiver) {
        if (dead && (prop === 'append' || prop === 'expire')) return () => new Promise(() => {})
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    }) as Store
    const lease = 300
    const runsA = createRuns(storeA, { lease })
    const runsB = createRuns(storeB, { lease })
    try {
      const started = await runsA.start(async (_run, signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve))
      })
      const follower = await runsB.open(started.runId, '')
      const ended = new Promise<string>((resolve) =>
        follower.start({ event: () => {}, end: (reason) => resolve(reason) }),
      )
      dead = true
      const t0 = Date.now()
      expect(await ended).toBe('lost')
      // Told within a few leases, never left hanging.
      expect(Date.now() - t0).toBeLessThan(lease * 10)
      const b = samples(runsB.metricsText())
      expect(b.get('sluice_runs_lost_detected_total')).toBe(1)
      expect(b.get('sluice_runs_started_total')).toBe(0)
    } finally {
      await runsB.close()
      await storeB.close()
      await realA.close()
    }
  })
})
