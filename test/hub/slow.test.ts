/**
 * A stalled subscriber is cut at its cap while 100 others keep pace, and on
 * reconnect catches up from history with nothing lost: on the memory store,
 * and on a real Redis (the fan-out then follows XREAD, after the publish).
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub, memoryStore, type Hub, type Store } from '../../src/hub/index.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { createParser } from '../../src/protocol/index.js'
import type { EventSourceMessage } from '../../src/protocol/types.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { openSse, isAppEvent } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { type ServedHub, serveHub } from './support.js'

/** A hub whose subscribers may fall 64 KiB behind, no heartbeats. */
function hubOn(store: Store): Hub {
  return createHub({ store, maxBufferedBytes: 64 * 1024, heartbeat: 0 })
}

/** A client that reads `readFirst` events, then freezes (reads nothing more), like a hung tab. */
function stalledClient(port: number, path: string, readFirst: number) {
  const socket = connect(port, '127.0.0.1')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  let frozen = false
  const events: EventSourceMessage[] = []
  let headerDone = false
  let head = ''
  const parser = createParser({ onEvent: (e) => isAppEvent(e) && events.push(e) })
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => resolve())
    socket.on('error', () => {})
  })
  socket.on('data', (chunk: Buffer) => {
    if (frozen) return
    let text = chunk.toString('latin1')
    if (!headerDone) {
      head += text
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      headerDone = true
      text = head.slice(end + 4)
    }
    // Chunked transfer encoding: drop the size lines (events hold no CRLF-framed hex lines).
    parser.feed(Buffer.from(text.replace(/\r\n[0-9a-f]+\r\n/g, ''), 'latin1'))
    if (events.length >= readFirst) {
      frozen = true
      socket.pause()
    }
  })
  return { socket, events, closed, resume: () => socket.resume() }
}

async function stalledSubscriberScenario(served: ServedHub, store: 'memory' | 'redis') {
  const { hub, port } = served
  const base = `http://127.0.0.1:${port}`
  const others = await Promise.all(
    Array.from({ length: 100 }, () => openSse(`${base}/events?topic=feed`)),
  )
  const stalled = stalledClient(port, '/events?topic=feed&topic=bulk', 4)
  await waitUntil(() => hub.metrics.connections === 101, 5000, 'the stalled client subscribed')
  const bulk = 'b'.repeat(20 * 1024)
  const ids: { id: string; topic: string }[] = []
  for (let i = 0; i < 4; i++) ids.push({ id: await hub.publish('feed', `warm${i}`), topic: 'feed' })
  await waitUntil(() => stalled.events.length >= 4, 5000, 'the stalled client reading 4 events')
  let cutAt = -1
  for (let i = 0; i < 600; i++) {
    ids.push({ id: await hub.publish('feed', `f${i}`), topic: 'feed' })
    ids.push({ id: await hub.publish('bulk', bulk), topic: 'bulk' })
    if (cutAt === -1 && hub.metrics.slowConsumerDisconnects === 1) cutAt = i
    // Let the sockets move, as a real publisher's pace would.
    if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1))
  }
  console.log(
    `${store}: stalled subscriber cut after ${cutAt + 1} of 600 rounds (20 KiB bulk + 1 feed event each)`,
  )
  if (store === 'memory') {
    // The stalled one was cut while publishing went on (not at the end).
    expect(cutAt).toBeGreaterThan(-1)
    expect(cutAt).toBeLessThan(599)
  } else {
    // On Redis the fan-out follows the publish (XREAD): the cut may come just after the loop.
    await waitUntil(
      () => hub.metrics.slowConsumerDisconnects === 1,
      10_000,
      'the stalled subscriber cut',
    )
  }
  // Every other subscriber has every feed event, in order, promptly.
  const feedIds = ids.filter((x) => x.topic === 'feed').map((x) => x.id)
  for (const o of others) {
    await o.waitFor((ev) => ev.length >= feedIds.length, 10_000)
    expect(o.events.map((e) => e.id)).toEqual(feedIds)
    o.close()
  }
  // The stalled client wakes up to a closed connection and resumes from the last event it handled.
  stalled.resume()
  await stalled.closed
  const seen = stalled.events
  expect(seen.length).toBe(4)
  const lastId = seen[seen.length - 1].id
  const resumed = await openSse(`${base}/events?topic=feed&topic=bulk`, { 'last-event-id': lastId })
  expect(resumed.response.headers.get('sluice-history')).toBe('complete')
  const all = ids.map((x) => x.id)
  const from = all.indexOf(lastId) + 1
  await resumed.waitFor(
    (ev) => ev.filter((e) => e.event !== 'sluice-reset').length >= all.length - from,
    10_000,
  )
  expect(seen.map((e) => e.id)).toEqual(all.slice(0, from))
  expect(resumed.events.filter((e) => e.event !== 'sluice-reset').map((e) => e.id)).toEqual(
    all.slice(from),
  )
  resumed.close()
  expect(hub.metrics.slowConsumerDisconnects).toBe(1)
  const metrics = await (await fetch(`${base}/metrics`)).text()
  expect(metrics).toMatch(/^sluice_hub_slow_consumer_disconnects_total 1$/m)
}

describe('memory store', () => {
  let served: ServedHub
  beforeAll(async () => {
    served = await serveHub(hubOn(memoryStore({ maxLength: 1000 })))
  })
  afterAll(() => served?.close())

  it('cuts the stalled subscriber at its cap; 100 others keep pace; it catches up from history', async () => {
    await stalledSubscriberScenario(served, 'memory')
  }, 30_000)
})

describeExternal(['redis-server'], 'redis store', () => {
  let redis: RedisServer
  let served: ServedHub
  beforeAll(async () => {
    redis = await startRedis()
    served = await serveHub(hubOn(await redisStore({ url: redis.url, maxLength: 1000 })))
  })
  afterAll(async () => {
    await served?.close()
    await redis?.stop()
  })

  it('cuts the stalled subscriber at its cap; 100 others keep pace; it catches up from history', async () => {
    await stalledSubscriberScenario(served, 'redis')
  }, 30_000)
})
