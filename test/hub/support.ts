/**
 * Parts shared by the hub tests: a hub served over node:http on a loopback
 * port, and publishing to it over HTTP (reading: test/helpers/sse.ts).
 */
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, expect } from 'vitest'
import {
  type Hub,
  memoryStore,
  type MemoryStoreOptions,
  type Store,
  type WatchListener,
} from '../../src/hub/index.js'
import { redisStore } from '../../src/hub/redis-store.js'
import { listenLoopback } from '../helpers/http.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { openSse } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'

export interface ServedHub {
  hub: Hub
  server: Server
  port: number
  url: string
  /** Close the hub (its streams end), then the server. */
  close: () => Promise<void>
}

/** `createServer(hub.handler())` on 127.0.0.1 and a free port. */
export async function serveHub(hub: Hub): Promise<ServedHub> {
  const server = createServer(hub.handler())
  return {
    hub,
    server,
    ...(await listenLoopback(server)),
    async close() {
      await hub.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

export async function publish(
  base: string,
  topic: string,
  data: unknown,
  opts: { event?: string; token?: string } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  const res = await fetch(base + '/publish', {
    method: 'POST',
    headers,
    body: JSON.stringify({ topic, data, event: opts.event }),
  })
  return { status: res.status, body: await res.json() }
}

/** Events in a paced burst, and their size: 200 x 64 KB = 12.5 MiB, 16 of them pass a 1 MiB cap. */
export const BURST_EVENTS = 200
export const BURST_SIZE = 64 * 1024

/** Burst event i: its number, then padding to BURST_SIZE bytes. */
export const burstPayload = (i: number): string => `${i}:`.padEnd(BURST_SIZE, 'x')

/** A client that sends the request and never reads a byte of the answer. */
export function nonReader(port: number, path: string): { socket: Socket; closed: Promise<void> } {
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  return { socket, closed: new Promise((r) => socket.once('close', () => r())) }
}

/**
 * Five readers and one client that reads nothing subscribe to `big`; `burst`
 * publishes BURST_EVENTS events of burstPayload(i) and returns their ids.
 * Every reader must get all of them whole and in order, and exactly one
 * subscriber, the non-reader, must be cut (issue 5's rule).
 */
export async function expectPacedBurst(
  served: ServedHub,
  burst: (hub: Hub) => Promise<string[]>,
): Promise<void> {
  const { hub, url } = served
  const readers = await Promise.all(
    Array.from({ length: 5 }, () => openSse(`${url}/events?topic=big`)),
  )
  const stalled = nonReader(served.port, '/events?topic=big')
  await waitUntil(() => hub.metrics.connections === 6, 5000, 'six subscribers')
  const ids = await burst(hub)
  expect(new Set(ids).size).toBe(BURST_EVENTS)
  for (const r of readers) {
    await r.waitFor((ev) => ev.length >= BURST_EVENTS, 20_000)
    expect(r.events.map((e) => e.id)).toEqual(ids)
    expect(r.events.map((e) => e.data.slice(0, e.data.indexOf(':')))).toEqual(
      ids.map((_, i) => String(i)),
    )
    expect(r.events.every((e) => e.data.length === BURST_SIZE)).toBe(true)
  }
  await waitUntil(() => hub.metrics.slowConsumerDisconnects === 1, 10_000, 'the non-reader cut')
  stalled.socket.resume()
  await stalled.closed
  expect(hub.metrics.slowConsumerDisconnects).toBe(1)
  for (const r of readers) r.close()
}

/**
 * A store of one's own (the `Store` interface is the extension point): the
 * memory store, with its watch listeners in reach, so a test can report what
 * a store over the network reports (a reset, a gap) at a moment it chooses.
 */
export function listenedStore(options: MemoryStoreOptions = {}): {
  store: Store
  listeners: Set<WatchListener>
} {
  const inner = memoryStore(options)
  const listeners = new Set<WatchListener>()
  const store: Store = {
    ...inner,
    async watch(topic, listener) {
      const unwatch = await inner.watch(topic, listener)
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
        unwatch()
      }
    },
  }
  return { store, listeners }
}

/**
 * One real redis-server for a describe block (started before, stopped after)
 * and `open(maxLength)`: a Redis store on it with a key prefix of its own, so
 * the tests of the block share the server and never each other's keys.
 */
export function redisStores(name: string): {
  open: (maxLength?: number) => Promise<Store>
  redis: () => RedisServer
} {
  let redis: RedisServer | undefined
  const stores: Store[] = []
  let n = 0
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    for (const s of stores) await s.close()
    await redis?.stop()
  })
  return {
    async open(maxLength = 1000) {
      const s = await redisStore({ url: redis!.url, prefix: `${name}${++n}:`, maxLength })
      stores.push(s)
      return s
    },
    redis: () => redis!,
  }
}
