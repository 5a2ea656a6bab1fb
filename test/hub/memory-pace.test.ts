/**
 * With the memory store, `publish()` fans out inside the call. A publisher
 * that awaits each `publish()` in a tight loop runs entirely in microtasks, so
 * no corked socket reaches the kernel until the loop ends. The store delivers
 * synchronously while a turn of the event loop stays under ~16 KiB and hands
 * the rest of a burst over in slices with a turn between them, so each
 * subscriber gets it at its own pace: readers that read are never cut, and one
 * that does not read is still cut at its cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub, memoryStore } from '../../src/hub/index.js'
import type { StoredEvent } from '../../src/hub/store.js'
import { waitUntil } from '../helpers/wait.js'
import {
  BURST_EVENTS,
  burstPayload,
  expectPacedBurst,
  type ServedHub,
  serveHub,
} from './support.js'

const turn = () => new Promise<void>((r) => setImmediate(r))

describe('memory hub: fan-out follows each subscriber, not the publisher loop', () => {
  let served: ServedHub
  beforeAll(async () => {
    // The default store and cap: a subscriber may fall 1 MiB behind (16 of these events).
    served = await serveHub(createHub({ heartbeat: 0 }))
  })
  afterAll(async () => {
    await served?.close()
  })

  it('200 events of 64 KB published in an await loop: 5 readers get all, in order, none cut; a non-reader is cut', async () => {
    await expectPacedBurst(served, async (hub) => {
      // 12.5 MiB in a loop that never leaves the microtask queue.
      const ids: string[] = []
      for (let i = 0; i < BURST_EVENTS; i++) ids.push(await hub.publish('big', burstPayload(i)))
      return ids
    })
  }, 40_000)
})

describe('memory store: a burst past one turn is queued, in seq order', () => {
  const big = (i: number) => `${i}:`.padEnd(8 * 1024, 'y')

  it('small events go out inside append(); a burst goes out over later turns, every event once and in order', async () => {
    const store = memoryStore()
    const seen: StoredEvent[] = []
    await store.watch('a', { onEvent: (e) => seen.push(e) })
    await store.watch('b', { onEvent: (e) => seen.push(e) })
    const first = await store.append('a', { data: 'small' })
    expect(seen).toEqual([first])

    const appended: StoredEvent[] = [first]
    for (let i = 0; i < 40; i++)
      appended.push(await store.append(i % 2 ? 'a' : 'b', { data: big(i) }))
    // append() resolved at once for all 40; only the first turn's budget is delivered yet.
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.length).toBeLessThan(appended.length)
    await waitUntil(() => seen.length === appended.length, 5000, 'the whole burst')
    expect(seen.map((e) => e.seq)).toEqual(appended.map((e) => e.seq))
    await store.close()
  })

  it('a listener that joins while a burst is queued gets every later event and none from before it joined; an unwatched one gets no more', async () => {
    const store = memoryStore()
    const early: number[] = []
    const unwatchEarly = await store.watch('t', { onEvent: (e) => early.push(e.seq) })
    const before: StoredEvent[] = []
    for (let i = 0; i < 20; i++) before.push(await store.append('t', { data: big(i) }))
    expect(early.length).toBeLessThan(before.length) // part of it is queued

    const late: number[] = []
    await store.watch('t', { onEvent: (e) => late.push(e.seq) })
    const after: StoredEvent[] = []
    for (let i = 0; i < 20; i++) after.push(await store.append('t', { data: big(i) }))
    unwatchEarly()
    const atUnwatch = early.length

    await waitUntil(() => late.length === after.length, 5000, 'the late listener')
    // Everything appended after it joined, in order; what came before is history (read()).
    expect(late).toEqual(after.map((e) => e.seq))
    for (let i = 0; i < 5; i++) await turn()
    expect(early.length).toBe(atUnwatch)
    expect(early).toEqual(before.map((e) => e.seq).slice(0, atUnwatch))
    await store.close()
  })

  it('close() with a burst queued: nothing is delivered after it', async () => {
    const store = memoryStore()
    const seen: number[] = []
    await store.watch('t', { onEvent: (e) => seen.push(e.seq) })
    for (let i = 0; i < 20; i++) await store.append('t', { data: big(i) })
    const atClose = seen.length
    expect(atClose).toBeLessThan(20)
    await store.close()
    for (let i = 0; i < 5; i++) await turn()
    expect(seen.length).toBe(atClose)
  })
})
