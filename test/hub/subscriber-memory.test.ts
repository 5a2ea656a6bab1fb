/**
 * What an open hub subscriber keeps alive (issue 8, memory per idle
 * connection): once its replay is written, a resumed subscriber holds
 * nothing of it, and the one object per subscriber still does everything a
 * connection needs: live events, leaving its feed on disconnect, ending with
 * `hub.close()`.
 */
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { afterEach, expect, it } from 'vitest'
import { createHub, memoryStore } from '../../src/hub/index.js'
import type { Store } from '../../src/hub/store.js'
import { openSse, type SseConnection } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { serveHub, type ServedHub } from './support.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** A memory store that remembers, weakly, every array of events `read()` handed out (the replays). */
function watchedStore(): { store: Store; reads: WeakRef<object>[] } {
  const base = memoryStore()
  const reads: WeakRef<object>[] = []
  const store = new Proxy(base, {
    get(target, key) {
      const value = Reflect.get(target, key, target)
      if (key === 'read') {
        return async (topics: readonly string[], after: number) => {
          const result = await base.read(topics, after)
          reads.push(new WeakRef(result.events))
          return result
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store, reads }
}

async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 10))
  }
}

let served: ServedHub | undefined
const connections: SseConnection[] = []
afterEach(async () => {
  for (const c of connections.splice(0)) c.close()
  await served?.close()
  served = undefined
})

it('a resumed subscriber does not keep its replay alive while it stays connected', async () => {
  const { store, reads } = watchedStore()
  served = await serveHub(createHub({ store, heartbeat: 0 }))
  const { hub, url } = served
  const first = await hub.publish('news', { n: 0 })
  for (let n = 1; n < 300; n++) await hub.publish('news', { n })

  const sub = await openSse(`${url}/events?topic=news`, { 'last-event-id': first })
  connections.push(sub)
  await sub.waitFor((events) => events.length === 299)
  expect(reads.filter((r) => (r.deref() as unknown[] | undefined)?.length === 299)).toHaveLength(1)

  await collectGarbage()
  // Every array read() returned (the 299-event replay among them) is gone,
  // though the subscriber is still connected...
  expect(reads.map((r) => r.deref())).toEqual(reads.map(() => undefined))
  expect(hub.metrics.connections).toBe(1)
  // ...and still live.
  const id = await hub.publish('news', { n: 300 })
  await sub.waitFor((events) => events.length === 300)
  expect(sub.events.at(-1)).toMatchObject({ id, data: '{"n":300}' })
})

it('one subscriber object per connection: it leaves its feeds when the client goes, and ends with the hub', async () => {
  served = await serveHub(createHub({ heartbeat: 0 }))
  const { hub, url } = served
  const a = await openSse(`${url}/events?topic=a&topic=b`)
  const b = await openSse(`${url}/events?topic=b`)
  connections.push(a, b)
  await hub.publish('a', 'to a')
  await hub.publish('b', 'to b')
  await a.waitFor((events) => events.length === 2)
  await b.waitFor((events) => events.length === 1)
  expect(a.events.map((e) => e.data)).toEqual(['to a', 'to b'])
  expect(hub.metrics.topicsWatched).toBe(2)

  // The client of topics a and b goes: topic a has no subscriber left, b keeps one.
  a.close()
  await a.ended
  await waitUntil(() => hub.metrics.connections <= 1, 2000, 'the hub to see the client go')
  expect(hub.metrics.connections).toBe(1)
  expect(hub.metrics.topicsWatched).toBe(1)

  // hub.close() ends the remaining stream normally (the client sees the end).
  await hub.close()
  await b.ended
  expect(hub.metrics.connections).toBe(0)
  expect(hub.metrics.topicsWatched).toBe(0)
})

it('a hub closed while a subscription is being opened refuses it, and nothing of it stays in the feeds', async () => {
  const base = memoryStore()
  let releaseHead!: () => void
  const headGate = new Promise<void>((r) => (releaseHead = r))
  // The store's head() waits until the hub has been closed.
  const store = new Proxy(base, {
    get(target, key) {
      const value = Reflect.get(target, key, target)
      if (key === 'head') return () => headGate.then(() => base.head())
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const hub = createHub({ store, heartbeat: 0 })
  const opening = hub.open(['news'])
  const closing = hub.close()
  releaseHead()
  await expect(opening).rejects.toMatchObject({ code: 'STREAM_CLOSED' })
  await closing
  expect(hub.metrics.topicsWatched).toBe(0)
})
