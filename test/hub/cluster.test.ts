/**
 * Several `sluice serve --redis` processes act as one hub: every subscriber
 * gets every event of its topics once, in publish order, whichever node it
 * was published through; a killed node's subscribers resume on another with
 * Last-Event-ID; a flushed Redis is reported, never papered over.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { type SluiceProcess, startSluice } from '../helpers/serve.js'
import { openSse, type SseConnection } from '../helpers/sse.js'
import { publish } from './support.js'

describeExternal(['redis-server'], 'two sluice serve nodes on one Redis', () => {
  let redis: RedisServer
  let a: SluiceProcess
  let b: SluiceProcess
  beforeAll(async () => {
    redis = await startRedis()
    ;[a, b] = await Promise.all([
      startSluice('serve', ['--redis', redis.url, '--history', '5000']),
      startSluice('serve', ['--redis', redis.url, '--history', '5000']),
    ])
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await redis?.stop()
  })

  it('2,000 events published alternately through both reach subscribers on each node once, in order', async () => {
    const subs: [string[], SseConnection][] = []
    for (const node of [a, b]) {
      subs.push([['x', 'y'], await openSse(`${node.url}/events?topic=x&topic=y`)])
      subs.push([['x'], await openSse(`${node.url}/events?topic=x`)])
      subs.push([['y'], await openSse(`${node.url}/events?topic=y`)])
    }
    const published: { id: string; topic: string; data: string }[] = []
    for (let i = 0; i < 2000; i++) {
      const node = i % 2 ? b : a
      const topic = (i >> 1) % 2 ? 'y' : 'x'
      const { status, body } = await publish(node.url, topic, `e${i}`)
      expect(status).toBe(200)
      published.push({ id: body.id, topic, data: `e${i}` })
    }
    for (const [topics, sub] of subs) {
      const want = published.filter((p) => topics.includes(p.topic))
      await sub.waitFor((ev) => ev.length >= want.length, 20_000)
      await new Promise((r) => setTimeout(r, 100)) // nothing extra trails in
      expect(sub.events.map((e) => `${e.id} ${e.data}`)).toEqual(
        want.map((p) => `${p.id} ${p.data}`),
      )
      sub.close()
    }
  })

  it('kill -9 of a node mid-stream: its subscribers resume on the other with Last-Event-ID', async () => {
    const c = await startSluice('serve', ['--redis', redis.url, '--history', '5000'])
    const subs = [
      await openSse(`${c.url}/events?topic=k1&topic=k2`),
      await openSse(`${c.url}/events?topic=k1`),
    ]
    const topicsOf = [['k1', 'k2'], ['k1']]
    const published: { id: string; topic: string }[] = []
    let killed = false
    for (let i = 0; i < 600; i++) {
      const topic = i % 3 ? 'k1' : 'k2'
      const { body } = await publish(a.url, topic, `k${i}`)
      published.push({ id: body.id, topic })
      if (i === 300) {
        // Let some events reach the subscribers, then kill the node hard.
        await subs[0].waitFor((ev) => ev.length > 50)
        await c.stop('SIGKILL')
        killed = true
      }
    }
    expect(killed).toBe(true)
    for (let s = 0; s < subs.length; s++) {
      await subs[s].ended
      const before = subs[s].events
      const last = before[before.length - 1].id
      const resumed = await openSse(
        `${b.url}/events?${topicsOf[s].map((t) => `topic=${t}`).join('&')}`,
        { 'last-event-id': last },
      )
      expect(resumed.response.headers.get('sluice-history')).toBe('complete')
      const want = published.filter((p) => topicsOf[s].includes(p.topic)).map((p) => p.id)
      expect(before.length).toBeLessThan(want.length) // the kill did cut it short
      await resumed.waitFor((ev) => before.length + ev.length >= want.length, 20_000)
      await new Promise((r) => setTimeout(r, 100)) // nothing extra trails in
      const got = [...before, ...resumed.events].map((e) => e.id)
      expect(got).toEqual(want)
      resumed.close()
    }
  })
})

describeExternal(['redis-server'], 'a flushed Redis under a subscriber', () => {
  let redis: RedisServer
  let node: SluiceProcess
  beforeAll(async () => {
    redis = await startRedis()
    node = await startSluice('serve', ['--redis', redis.url])
  })
  afterAll(async () => {
    await node?.stop()
    await redis?.stop()
  })

  it('tells the subscriber history was reset, and a resume with an old id says so too', async () => {
    const sub = await openSse(`${node.url}/events?topic=f`)
    const before = await publish(node.url, 'f', 'before')
    await sub.waitFor((ev) => ev.length === 1)
    const admin = new Redis(redis.url)
    await admin.flushall()
    await sub.waitFor((ev) => ev.some((e) => e.event === 'sluice-reset'), 10_000)
    const after = await publish(node.url, 'f', 'after')
    await sub.waitFor((ev) => ev.some((e) => e.data === 'after'))
    expect(sub.events.map((e) => e.event || e.data)).toEqual(['before', 'sluice-reset', 'after'])
    expect(JSON.parse(sub.events[1].data).reason).toBe('reset')
    expect(after.body.id.split('-')[0]).not.toBe(before.body.id.split('-')[0])
    sub.close()

    // A client that was away during the flush comes back with an old-epoch id.
    const back = await openSse(`${node.url}/events?topic=f`, { 'last-event-id': before.body.id })
    expect(back.response.headers.get('sluice-history')).toBe('reset')
    await back.waitFor((ev) => ev.length >= 2)
    expect(back.events.map((e) => e.event || e.data)).toEqual(['sluice-reset', 'after'])
    back.close()
    admin.disconnect()
  })
})
