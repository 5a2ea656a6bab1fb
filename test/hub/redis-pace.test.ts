/**
 * On Redis, events reach subscribers when this node's XREAD brings them back,
 * after `publish()` resolved: a publisher that awaits only `publish()` can get
 * far ahead of the fan-out, and one XREAD then returns many events at once.
 * The store hands such a batch over in slices with a turn of the event loop
 * between them, so each subscriber gets it at its own pace: readers that read
 * are never cut, and one that does not read is still cut at its cap.
 */
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { describeExternal } from '../helpers/external.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { openSse } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'
import { type ServedHub, serveHub } from './support.js'

const EVENTS = 200
const SIZE = 64 * 1024

/** Event i: its number, then padding to SIZE bytes. */
const payload = (i: number) => `${i}:`.padEnd(SIZE, 'x')

/** A client that sends the request and never reads a byte of the answer. */
function nonReader(port: number, path: string): { socket: Socket; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  return { socket, closed: new Promise((r) => socket.once('close', () => r())) }
}

describeExternal(
  ['redis-server'],
  'Redis hub: fan-out follows each subscriber, not the XREAD batch',
  () => {
    let redis: RedisServer
    let served: ServedHub
    beforeAll(async () => {
      redis = await startRedis()
      // The default cap: a subscriber may fall 1 MiB behind (16 of these events).
      served = await serveHub(
        createHub({ store: await redisStore({ url: redis.url }), heartbeat: 0 }),
      )
    })
    afterAll(async () => {
      await served?.close()
      await redis?.stop()
    })

    it('200 events of 64 KB published at once: 5 readers get all, in order, none cut; a non-reader is cut', async () => {
      const { hub, url } = served
      const readers = await Promise.all(
        Array.from({ length: 5 }, () => openSse(`${url}/events?topic=big`)),
      )
      const stalled = nonReader(served.port, '/events?topic=big')
      await waitUntil(() => hub.metrics.connections === 6, 5000, 'six subscribers')

      // Every publish at once, awaiting only publish(): 12.5 MiB appended in a
      // few script calls, far faster than the fan-out, so XREAD returns big batches.
      const ids = await Promise.all(
        Array.from({ length: EVENTS }, (_, i) => hub.publish('big', payload(i))),
      )
      expect(new Set(ids).size).toBe(EVENTS)

      for (const r of readers) {
        await r.waitFor((ev) => ev.length >= EVENTS, 20_000)
        expect(r.events.map((e) => e.id)).toEqual(ids)
        expect(r.events.map((e) => e.data.slice(0, e.data.indexOf(':')))).toEqual(
          ids.map((_, i) => String(i)),
        )
        expect(r.events.every((e) => e.data.length === SIZE)).toBe(true)
      }
      // Exactly one cut: the client that read nothing (issue 5's rule), and its connection is closed.
      await waitUntil(() => hub.metrics.slowConsumerDisconnects === 1, 10_000, 'the non-reader cut')
      stalled.socket.resume()
      await stalled.closed
      expect(hub.metrics.slowConsumerDisconnects).toBe(1)
      for (const r of readers) r.close()
    }, 40_000)
  },
)
