/**
 * The Redis store sends the appends of one tick as one script call: N
 * publishes cost one round trip and a constant number of commands besides
 * their XADDs, whatever the number of subscribers, while ids, order (one
 * hub-wide sequence) and trimming stay exactly as one call per append gave.
 */
import { expect, it } from 'vitest'
import type { StoredEvent } from '../../src/hub/store.js'
import { describeExternal } from '../helpers/external.js'
import { commandStats, resetStats } from '../helpers/redis-server.js'
import { waitUntil } from '../helpers/wait.js'
import { redisStores } from './support.js'

describeExternal(['redis-server'], 'Redis store: appends of one tick in one script call', () => {
  const { open, redis } = redisStores('batch')

  it('300 appends over 3 topics in one tick: one script call, consecutive ids in call order, live in seq order', async () => {
    const store = await open()
    const live: StoredEvent[] = []
    for (const t of ['a', 'b', 'c']) await store.watch(t, { onEvent: (e) => live.push(e) })
    await store.append('a', { data: 'warm' }) // loads the script (EVALSHA, or EVAL once)
    await waitUntil(() => live.length === 1, 5000, 'the warm-up event live')
    await resetStats(redis().port)

    const topics = Array.from({ length: 300 }, (_, i) => ['a', 'b', 'c'][(i * 7) % 3])
    const events = await Promise.all(
      topics.map((topic, i) =>
        store.append(topic, i % 5 === 0 ? { data: `d${i}`, event: 'tick' } : { data: `d${i}` }),
      ),
    )
    const stats = await commandStats(redis().port)
    expect((stats.evalsha ?? 0) + (stats.eval ?? 0)).toBe(1)
    expect(stats.xadd).toBe(300)

    const first = events[0].seq
    expect(events.map((e) => e.seq)).toEqual(topics.map((_, i) => first + i))
    expect(events.map((e) => e.topic)).toEqual(topics)
    expect(events.every((e) => e.id === `${e.epoch}-${e.seq}`)).toBe(true)
    expect(events.filter((e) => e.event === 'tick').length).toBe(60)

    await waitUntil(() => live.length === 301, 5000, 'all 300 events live')
    expect(live.slice(1).map((e) => [e.id, e.topic, e.data, e.event])).toEqual(
      events.map((e) => [e.id, e.topic, e.data, e.event]),
    )
    const read = await store.read(['a', 'b', 'c'], first - 1)
    expect(read.truncated).toBe(false)
    expect(read.events.map((e) => e.id)).toEqual(events.map((e) => e.id))
  })

  it('a batch larger than the history trims it in the same call, and says what was dropped', async () => {
    const store = await open(10)
    const events = await Promise.all(
      Array.from({ length: 250 }, (_, i) => store.append('t', { data: `e${i}` })),
    )
    const last = events[events.length - 1].seq
    const info = await store.info('t')
    expect(info).not.toBeNull()
    // maxLength 10 trims in steps of at least 1 (a tenth of it): 10 kept.
    expect(info!.length).toBe(10)
    expect(info!.lastSeq).toBe(last)
    expect(info!.trimmedSeq).toBe(last - 10)
    const all = await store.read(['t'], 0)
    expect(all.truncated).toBe(true)
    expect(all.events.map((e) => e.data)).toEqual(events.slice(-10).map((e) => e.data))
    const recent = await store.read(['t'], last - 10)
    expect(recent.truncated).toBe(false)
  })

  it('publishes awaited one by one still get one call each and stay in order', async () => {
    const store = await open()
    await store.append('s', { data: 'warm' })
    await resetStats(redis().port)
    const seqs: number[] = []
    for (let i = 0; i < 20; i++) seqs.push((await store.append('s', { data: `x${i}` })).seq)
    const stats = await commandStats(redis().port)
    expect((stats.evalsha ?? 0) + (stats.eval ?? 0)).toBe(20)
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i))
  })
})
