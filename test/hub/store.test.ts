/**
 * The Store contract, run against both stores: hub-wide ids, multi-topic
 * reads, bounded history with truncation reported, live watch with no gap
 * and no duplicate at the seam.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub } from '../../src/hub/hub.js'
import { Redis } from 'ioredis'
import { memoryStore } from '../../src/hub/memory-store.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { parseId } from '../../src/hub/ids.js'
import type { Store, StoredEvent } from '../../src/hub/store.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { waitUntil } from '../helpers/wait.js'
import { serveHub } from './support.js'

let prefixN = 0

function contract(name: string, make: (maxLength: number) => Promise<Store>) {
  describe(name, () => {
    it('issues hub-wide increasing ids carrying the epoch', async () => {
      const store = await make(100)
      const a = await store.append('a', { data: '1' })
      const b = await store.append('b', { data: '2', event: 'x' })
      const epoch = await store.epoch()
      expect(parseId(a.id)).toEqual({ epoch, seq: a.seq })
      expect(b.seq).toBe(a.seq + 1)
      expect(b.event).toBe('x')
      await store.close()
    })

    it('reads several topics after one id, merged in seq order', async () => {
      const store = await make(100)
      const published: StoredEvent[] = []
      for (let i = 0; i < 30; i++) {
        published.push(await store.append(['a', 'b', 'c'][i % 3], { data: String(i) }))
      }
      const cut = published[9].seq
      const r = await store.read(['a', 'b'], cut)
      const expected = published.filter((e) => e.seq > cut && e.topic !== 'c').map((e) => e.data)
      expect(r.events.map((e) => e.data)).toEqual(expected)
      expect(r.truncated).toBe(false)
      await store.close()
    })

    it('bounds history by count and reports truncation', async () => {
      const store = await make(10)
      const first = await store.append('t', { data: '0' })
      for (let i = 1; i < 500; i++) await store.append('t', { data: String(i) })
      const info = await store.info('t')
      expect(info!.length).toBeGreaterThanOrEqual(10)
      expect(info!.length).toBeLessThan(500)
      const r = await store.read(['t'], first.seq)
      expect(r.truncated).toBe(true)
      // What is kept is a contiguous tail ending at the newest event.
      const data = r.events.map((e) => Number(e.data))
      expect(data[data.length - 1]).toBe(499)
      expect(data).toEqual(data.map((_, i) => data[0] + i))
      // Reading from inside the kept window is complete.
      const inside = await store.read(['t'], r.events[2].seq)
      expect(inside.truncated).toBe(false)
      expect(inside.events.length).toBe(r.events.length - 3)
      await store.close()
    })

    it('watch then read: every event once, none lost at the seam', async () => {
      const store = await make(10_000)
      const before = await store.append('s', { data: 'before' })
      // A writer keeps appending while the reader joins.
      let writing = true
      let n = 0
      const writer = (async () => {
        while (writing && n < 50_000) {
          await store.append(n % 2 ? 's' : 'u', { data: String(n++) })
          if (n % 10 === 0) await new Promise((r) => setImmediate(r))
        }
      })()
      await waitUntil(() => n >= 10, 5000, 'the writer to be under way')
      const live: StoredEvent[] = []
      const unwatch = await Promise.all([
        store.watch('s', { onEvent: (e) => live.push(e) }),
        store.watch('u', { onEvent: (e) => live.push(e) }),
      ])
      const replay = await store.read(['s', 'u'], before.seq)
      // Keep writing until some events have come live after the read.
      await waitUntil(() => live.length >= 5 || n >= 50_000)
      writing = false
      await writer
      await waitUntil(() => n === 0 || live.some((e) => e.data === String(n - 1)))
      // Merge as the hub does: replay, then live events past the last replayed seq.
      const last = replay.events.length ? replay.events[replay.events.length - 1].seq : before.seq
      const merged = [...replay.events, ...live.filter((e) => e.seq > last)]
      expect(merged.map((e) => e.data)).toEqual(Array.from({ length: n }, (_, i) => String(i)))
      for (const u of unwatch) u()
      await store.close()
    })

    it('deletes and expires topics', async () => {
      const store = await make(100)
      await store.append('gone', { data: '1' })
      await store.append('later', { data: '1' })
      await store.delete('gone')
      await store.expire('later', 50)
      expect(await store.info('gone')).toBeNull()
      await waitUntil(async () => (await store.info('later')) === null)
      await store.close()
    })
  })
}

contract('memoryStore', async (maxLength) => memoryStore({ maxLength }))

describe('memoryStore age limit', () => {
  it('drops events older than maxAge and says so', async () => {
    let t = 1_000_000
    const store = memoryStore({ maxAge: 1000, now: () => t })
    const old = await store.append('t', { data: 'old' })
    t += 600
    await store.append('t', { data: 'mid' })
    t += 600
    const r = await store.read(['t'], old.seq - 1)
    expect(r.events.map((e) => e.data)).toEqual(['mid'])
    expect(r.truncated).toBe(true)
  })
})

describeExternal(['redis-server'], 'redisStore', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  contract('contract', async (maxLength) =>
    redisStore({ url: redis.url, prefix: `t${++prefixN}:`, maxLength }),
  )

  it('a flushed Redis is a new epoch, and watchers are told', async () => {
    const store = await redisStore({ url: redis.url, prefix: 'flush:', blockMs: 200 })
    const a = await store.append('f', { data: 'a' })
    const resets: string[] = []
    const seen: string[] = []
    await store.watch('f', {
      onEvent: (e) => seen.push(e.data),
      onReset: (info) => resets.push(info.previousEpoch),
    })
    const admin = new Redis(redis.url)
    await admin.flushall()
    await waitUntil(() => resets.length === 1)
    expect(resets[0]).toBe(a.epoch)
    const b = await store.append('f', { data: 'b' })
    expect(b.epoch).not.toBe(a.epoch)
    expect(b.seq).toBe(1)
    await waitUntil(() => seen.includes('b'))
    admin.disconnect()
    await store.close()
  })

  it('a Redis restarted without persistence is a new epoch, and watchers are told', async () => {
    const own = await startRedis()
    const store = await redisStore({ url: own.url, blockMs: 200 })
    const a = await store.append('r', { data: 'a' })
    const resets: string[] = []
    const seen: string[] = []
    await store.watch('r', {
      onEvent: (e) => seen.push(e.data),
      onReset: (info) => resets.push(info.previousEpoch),
    })
    await own.proc.stop('SIGKILL')
    const again = await startRedis({ port: own.port })
    await waitUntil(() => resets.length === 1, 15_000)
    expect(resets[0]).toBe(a.epoch)
    const b = await store.append('r', { data: 'b' })
    expect(b.epoch).not.toBe(a.epoch)
    await waitUntil(() => seen.includes('b'))
    const r = await store.read(['r'], 0)
    expect(r.events.map((e) => e.data)).toEqual(['b'])
    await store.close()
    await again.stop()
  }, 30_000)

  it('with Redis down, publish and subscribe get 503 STORE_ERROR as JSON', async () => {
    const own = await startRedis()
    const served = await serveHub(createHub({ store: await redisStore({ url: own.url }) }))
    const base = served.url
    await own.stop()
    const pub = await fetch(`${base}/publish`, {
      method: 'POST',
      body: JSON.stringify({ topic: 't', data: 'x' }),
    })
    expect(pub.status).toBe(503)
    expect((await pub.json()).error).toBe('STORE_ERROR')
    const sub = await fetch(`${base}/events?topic=t`)
    expect(sub.status).toBe(503)
    expect((await sub.json()).error).toBe('STORE_ERROR')
    await served.close()
  }, 20_000)

  it('a topic watched while the read loop is blocked is read at once (CLIENT UNBLOCK)', async () => {
    const store = await redisStore({ url: redis.url, prefix: 'unblock:', blockMs: 10_000 })
    await store.watch('first', { onEvent: () => {} })
    // The loop is now blocked for up to 10 s (its XREAD BLOCK is in Redis).
    const admin = new Redis(redis.url)
    await waitUntil(
      async () => /^blocked_clients:[1-9]/m.test(String(await admin.call('INFO', 'clients'))),
      5000,
      'the blocking XREAD',
    )
    admin.disconnect()
    const seen: number[] = []
    await store.watch('second', { onEvent: () => seen.push(Date.now()) })
    const sent = Date.now()
    await store.append('second', { data: 'x' })
    await waitUntil(() => seen.length === 1, 15_000) // past blockMs: the bound is the next line's
    expect(seen[0] - sent).toBeLessThan(3000) // well under blockMs
    await store.close()
  })

  it('drops events older than maxAge (Redis clock) and says so', async () => {
    const store = await redisStore({ url: redis.url, prefix: 'age:', maxAge: 300 })
    const old = await store.append('t', { data: 'old' })
    await new Promise((r) => setTimeout(r, 400)) // time passes: 'old' ages past maxAge
    await store.append('t', { data: 'new' })
    const r = await store.read(['t'], old.seq - 1)
    expect(r.events.map((e) => e.data)).toEqual(['new'])
    expect(r.truncated).toBe(true)
    await store.close()
  })
})
