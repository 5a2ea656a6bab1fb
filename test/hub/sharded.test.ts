/**
 * The sharded store (src/hub/sharded) on three real Redis primaries on
 * loopback, with two hubs in this process (two nodes): topics on every
 * shard, subscribers spanning shards on both nodes get every event once in
 * one seq order; a shard primary killed and restarted mid-stream (with its
 * append-only file: exact resume across nodes; without: an explicit reset).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Hub } from '../../src/hub/hub.js'
import { shardedRedisStore } from '../../src/hub/sharded/index.js'
import { shardOf } from '../../src/hub/sharded/shards.js'
import { createRuns } from '../../src/runs/index.js'
import type { HubEvent } from '../../src/hub/subscription.js'
import { describeExternal, freePort, requireBinary } from '../helpers/external.js'
import { command, type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { startSluice } from '../helpers/serve.js'
import { openSse } from '../helpers/sse.js'
import { publish } from './support.js'

/** Two topics per shard. */
function topicsPerShard(count: number): string[][] {
  const out: string[][] = Array.from({ length: count }, () => [])
  for (let i = 0; out.some((t) => t.length < 2); i++) {
    const t = `t${i}`
    const list = out[shardOf(t, count)]
    if (list.length < 2) list.push(t)
  }
  return out
}

/** Collect a subscription's events until `stop()`. */
function collect(hub: Hub, topics: string[], lastEventId = '') {
  const ac = new AbortController()
  const events: HubEvent[] = []
  const done = (async () => {
    try {
      for await (const e of hub.subscribe(topics, { signal: ac.signal, lastEventId }))
        events.push(e)
    } catch {}
  })()
  return {
    events,
    stop: async () => {
      ac.abort()
      await done
    },
  }
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describeExternal(['redis-server'], 'sharded store on three Redis primaries, two nodes', () => {
  const dirs: string[] = []
  const servers: RedisServer[] = []
  let a: Hub
  let b: Hub
  const bin = () => requireBinary('redis-server')
  const launch = (port: number, dir: string, aof: boolean) =>
    startRedisServer({
      port,
      bin: bin(),
      args: aof ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--dir', dir],
    })
  const shardTopics = topicsPerShard(3)
  const all = shardTopics.flat()

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-shard-'))
      dirs.push(dir)
      servers.push(await launch(await freePort(), dir, i === 0))
    }
    const urls = servers.map((s) => s.url)
    a = new Hub({ store: await shardedRedisStore({ urls, maxLength: 5000, blockMs: 500 }) })
    b = new Hub({ store: await shardedRedisStore({ urls, maxLength: 5000, blockMs: 500 }) })
  }, 30_000)

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
    await Promise.all(servers.map((s) => s.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('subscribers spanning shards on both nodes get every event of their topics once, in one seq order', async () => {
    const subs = [
      { topics: all, c: collect(a, all) },
      { topics: all, c: collect(b, all) },
      {
        topics: [shardTopics[0][0], shardTopics[2][1]],
        c: collect(a, [shardTopics[0][0], shardTopics[2][1]]),
      },
      { topics: [shardTopics[1][0]], c: collect(b, [shardTopics[1][0]]) },
    ]
    await new Promise((r) => setTimeout(r, 200))
    const published: { id: string; topic: string; data: string }[] = []
    for (let round = 0; round < 60; round++) {
      // 24 publishes in flight at once through both nodes, on every shard.
      const batch = all.flatMap((topic, k) =>
        [a, b].map(async (hub, h) => {
          const data = `${round}.${k}.${h}`
          published.push({ id: await hub.publish(topic, data), topic, data })
        }),
      )
      await Promise.all(batch)
    }
    const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
    published.sort((x, y) => seqOf(x.id) - seqOf(y.id))
    for (const { topics, c } of subs) {
      const want = published.filter((p) => topics.includes(p.topic)).map((p) => `${p.id} ${p.data}`)
      await until(() => c.events.length >= want.length)
      await new Promise((r) => setTimeout(r, 100))
      expect(c.events.map((e) => `${e.id} ${e.data}`)).toEqual(want)
      await c.stop()
    }
  }, 30_000)

  it('a shard primary killed and restarted mid-stream (append-only file): resumes on the other node are exact', async () => {
    const killed = servers[0]
    const sub = collect(a, all)
    await new Promise((r) => setTimeout(r, 100))
    const published: { id: string; topic: string }[] = []
    const refused: string[] = []
    let restarted: RedisServer | null = null
    for (let i = 0; i < 300; i++) {
      const topic = all[i % all.length]
      try {
        published.push({ id: await (i % 2 ? a : b).publish(topic, `k${i}`), topic })
      } catch {
        refused.push(topic)
      }
      if (i === 100) await killed.proc.stop('SIGKILL')
      if (i === 200) {
        restarted = await launch(killed.port, dirs[0], true)
        servers[0] = restarted
      }
    }
    expect(restarted).not.toBeNull()
    // Only the killed shard's topics were refused, and some were.
    expect(refused.length).toBeGreaterThan(0)
    for (const t of refused) expect(shardOf(t, 3)).toBe(0)
    const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
    published.sort((x, y) => seqOf(x.id) - seqOf(y.id))
    await until(() => sub.events.length >= published.length, 20_000)
    expect(sub.events.map((e) => e.id)).toEqual(published.map((p) => p.id))
    // Resume on the other node from an id in the middle: exactly the rest.
    const cut = Math.floor(published.length / 2)
    await sub.stop()
    const resumed = collect(b, all, published[cut].id)
    await until(() => resumed.events.length >= published.length - cut - 1)
    await new Promise((r) => setTimeout(r, 100))
    expect(resumed.events.map((e) => e.id)).toEqual(published.slice(cut + 1).map((p) => p.id))
    await resumed.stop()
  }, 40_000)

  it('a shard restarted empty (no persistence): live subscribers and resumes get sluice-reset', async () => {
    const live = collect(b, all)
    const topic = shardTopics[1][0]
    await new Promise((r) => setTimeout(r, 100))
    const before = await a.publish(topic, 'before')
    await until(() => live.events.length >= 1)
    await servers[1].proc.stop('SIGKILL')
    servers[1] = await launch(servers[1].port, dirs[1], false)
    let after = ''
    await until(() => {
      a.publish(topic, 'after').then(
        (id) => (after ||= id),
        () => {},
      )
      return after !== ''
    })
    await until(() => live.events.some((e) => e.data === 'after'))
    const kinds = live.events.map((e) => e.event || e.data)
    expect(kinds.indexOf('sluice-reset')).toBeGreaterThan(kinds.indexOf('before'))
    expect(kinds.indexOf('sluice-reset')).toBeLessThan(kinds.indexOf('after'))
    await live.stop()
    const resumed = collect(a, [topic], before)
    await until(() => resumed.events.length >= 2)
    expect(resumed.events[0].event).toBe('sluice-reset')
    expect(resumed.events.slice(1).map((e) => e.data)).toContain('after')
    await resumed.stop()
  }, 30_000)

  it('an id of the single-instance store is answered with a reset', async () => {
    const c = collect(a, all, '0123456789-42')
    await until(() => c.events.length >= 1)
    expect(c.events[0].event).toBe('sluice-reset')
    await c.stop()
  })

  it('sluice serve --redis URL,URL --redis URL: two processes shard over the three, one id resumes across them', async () => {
    const [u0, u1, u2] = servers.map((s) => s.url)
    const [p, q] = await Promise.all([
      startSluice('serve', ['--redis', `${u0},${u1}`, '--redis', u2]),
      startSluice('serve', ['--redis', u0, '--redis', `${u1},${u2}`]),
    ])
    try {
      const query = all.map((t) => `topic=${t}`).join('&')
      const sub = await openSse(`${q.url}/events?${query}`)
      const ids: string[] = []
      for (let i = 0; i < 60; i++) {
        const { status, body } = await publish(i % 2 ? p.url : q.url, all[i % all.length], `c${i}`)
        expect(status).toBe(200)
        ids.push(body.id)
      }
      const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
      ids.sort((x, y) => seqOf(x) - seqOf(y))
      await sub.waitFor((ev) => ev.filter((e) => e.data.startsWith('c')).length >= 60)
      expect(sub.events.filter((e) => e.data.startsWith('c')).map((e) => e.id)).toEqual(ids)
      sub.close()
      const resumed = await openSse(`${p.url}/events?${query}`, { 'last-event-id': ids[29] })
      await resumed.waitFor((ev) => ev.length >= 30)
      expect(resumed.events.map((e) => e.id)).toEqual(ids.slice(30))
      resumed.close()
    } finally {
      await Promise.all([p.stop(), q.stop()])
    }
  }, 40_000)

  it('history trimmed past a resume is reported (truncated), per topic, across shards', async () => {
    const urls = servers.map((s) => s.url)
    const hub = new Hub({
      store: await shardedRedisStore({ urls, prefix: 'trim:', maxLength: 10 }),
    })
    try {
      const ids: string[] = []
      for (let i = 0; i < 120; i++) ids.push(await hub.publish(all[i % all.length], `h${i}`))
      // Every topic kept its last ~10: a resume from the first id lost some.
      const c = collect(hub, all, ids[0])
      await until(() => c.events.some((e) => e.data === 'h119'))
      expect(c.events[0].event).toBe('sluice-reset')
      expect(JSON.parse(c.events[0].data).reason).toBe('truncated')
      await c.stop()
      // From the last id: nothing lost, no notice.
      const d = collect(hub, all, ids[119])
      await hub.publish(all[0], 'next')
      await until(() => d.events.length >= 1)
      expect(d.events.map((e) => e.data)).toEqual(['next'])
      await d.stop()
    } finally {
      await hub.close()
    }
  })

  it('a run (one topic) on the sharded store streams to the end and resumes from its last id', async () => {
    const urls = servers.map((s) => s.url)
    const store = await shardedRedisStore({ urls, prefix: 'runs:' })
    const runs = createRuns(store)
    try {
      const started = await runs.run(
        new Request('http://x/chat', { method: 'POST' }),
        async function* () {
          for (let i = 0; i < 20; i++) yield `tok${i} `
        },
      )
      const body = await started.text()
      expect(body).toContain('tok19')
      const runId = started.headers.get('sluice-run-id')!
      const ids = [...body.matchAll(/^id: ?(.+)$/gm)].map((m) => m[1])
      const resumed = await runs.resume(
        new Request('http://x/chat/' + runId, { headers: { 'last-event-id': ids[4] } }),
        runId,
      )
      const rest = await resumed.text()
      // Run ids count the run's events (id 4 is tok3): the rest starts at tok4.
      expect(rest).not.toContain('tok3 ')
      expect(rest.match(/data:tok\d+ /g)).toEqual(
        Array.from({ length: 16 }, (_, i) => `data:tok${i + 4} `),
      )
      expect(rest).toContain('event:done')
    } finally {
      await runs.close?.()
      await store.close()
    }
  })

  it('a shard whose seqs run far ahead (a clock 10 s fast) does not reorder or delay the others', async () => {
    const port = servers[2].port
    const cur = Number((await command(port, ['GET', 'sluice:seq'])) || 0)
    await command(port, ['SET', 'sluice:seq', String(cur + 10 * 100_000 * 3)])
    const subs = [collect(a, all), collect(b, all)]
    await new Promise((r) => setTimeout(r, 100))
    const published: string[] = []
    const t0 = Date.now()
    for (let i = 0; i < 90; i++) {
      published.push(await (i % 2 ? a : b).publish(all[i % all.length], `s${i}`))
    }
    const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
    published.sort((x, y) => seqOf(x) - seqOf(y))
    for (const c of subs) {
      await until(() => c.events.length >= 90)
      expect(c.events.map((e) => e.id)).toEqual(published)
    }
    // Delivered promptly: the lagging shards are moved up, not waited for.
    expect(Date.now() - t0).toBeLessThan(5000)
    const resumed = collect(b, all, published[44])
    await until(() => resumed.events.length >= 45)
    expect(resumed.events.map((e) => e.id)).toEqual(published.slice(45))
    for (const c of [...subs, resumed]) await c.stop()
  })
})
