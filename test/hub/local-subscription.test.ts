/**
 * `hub.subscribe()`, the in-process subscription: events in order, resumed
 * from an id, ended by its signal, by `return()` and by the hub's close, and
 * cut with SLOW_CONSUMER past `maxQueue` (src/hub/local-subscription.ts).
 */
import { expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import type { HubEvent } from '../../src/hub/index.js'

it('delivers live events in order, and resumes after an id with the rest', async () => {
  const hub = createHub()
  try {
    const it1 = hub.subscribe('news')[Symbol.asyncIterator]()
    const first = it1.next()
    const ids = [await hub.publish('news', 'a'), await hub.publish('news', 'b')]
    const got = [(await first).value as HubEvent, (await it1.next()).value as HubEvent]
    expect(got.map((e) => [e.id, e.data])).toEqual([
      [ids[0], 'a'],
      [ids[1], 'b'],
    ])
    await it1.return!()
    const resumed = hub.subscribe('news', { lastEventId: ids[0] })[Symbol.asyncIterator]()
    expect(((await resumed.next()).value as HubEvent).id).toBe(ids[1])
    await resumed.return!()
    expect(hub.metrics.connections).toBe(0)
  } finally {
    await hub.close()
  }
})

it('past maxQueue unread events the subscriber is ended with SLOW_CONSUMER', async () => {
  const hub = createHub()
  try {
    const sub = hub.subscribe('news', { maxQueue: 3 })[Symbol.asyncIterator]()
    const first = sub.next()
    await hub.publish('news', 0)
    await first
    for (let i = 1; i <= 5; i++) await hub.publish('news', i)
    const seen: unknown[] = []
    await expect(
      (async () => {
        for (;;) {
          const r = await sub.next()
          if (r.done) return
          seen.push(r.value.data)
        }
      })(),
    ).rejects.toMatchObject({ code: 'SLOW_CONSUMER' })
    expect(seen).toEqual(['1', '2', '3'])
    expect(hub.metrics.slowConsumerDisconnects).toBe(1)
    expect(hub.metrics.connections).toBe(0)
  } finally {
    await hub.close()
  }
})

it('its signal and the hub closing end it', async () => {
  const hub = createHub()
  const controller = new AbortController()
  const bySignal = hub.subscribe('a', { signal: controller.signal })[Symbol.asyncIterator]()
  const byClose = hub.subscribe('b')[Symbol.asyncIterator]()
  const pending = bySignal.next()
  controller.abort()
  expect((await pending).done).toBe(true)
  const waiting = byClose.next()
  await hub.close()
  expect((await waiting).done).toBe(true)
  expect(hub.metrics.connections).toBe(0)
})
