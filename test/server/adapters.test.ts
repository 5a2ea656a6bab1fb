/**
 * The framework adapters end to end: a real Express 5, Fastify 5 and Hono
 * (on @hono/node-server) app on a loopback port, read over HTTP. Each one must
 * stream events as they are sent and report a client that leaves.
 */
import type { Server } from 'node:http'
import { serve as honoServe } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type EventStream,
  expressEventStream,
  fastifyEventStream,
  fastifyEventStreamHandler,
  honoEventStream,
} from '../../src/server/index.js'
import { waitUntil } from '../helpers/wait.js'
import { readWire } from './support.js'

/** What every app serves: three events 60 ms apart, then the end. */
async function threeTicks(stream: EventStream): Promise<void> {
  for (let i = 1; i <= 3; i++) {
    await stream.send({
      event: 'tick',
      id: String(i),
      data: { i, lastEventId: stream.lastEventId },
    })
    await new Promise((r) => setTimeout(r, 60))
  }
  stream.complete()
}

/** A stream that stays open until the client leaves; records it. */
function forever(opened: EventStream[]) {
  return (stream: EventStream): void => {
    opened.push(stream)
    void stream.send('open')
  }
}

async function expectTicks(url: string): Promise<void> {
  const wire = await readWire(url, { headers: { 'Last-Event-ID': '0' } })
  expect(wire.status).toBe(200)
  expect(wire.headers['content-type']).toBe('text/event-stream')
  expect(wire.headers['x-accel-buffering']).toBe('no')
  expect(wire.events.map((e) => [e.event, e.id, JSON.parse(e.data)])).toEqual([
    ['tick', '1', { i: 1, lastEventId: '0' }],
    ['tick', '2', { i: 2, lastEventId: '0' }],
    ['tick', '3', { i: 3, lastEventId: '0' }],
  ])
  // Streamed, not buffered to the end: the events arrived spread over time.
  const firstTick = wire.arrivals.find((a) => a.text.includes('id:1'))!
  const lastTick = wire.arrivals.find((a) => a.text.includes('id:3'))!
  expect(lastTick.at - firstTick.at).toBeGreaterThan(60)
}

async function expectDisconnectSeen(url: string, opened: EventStream[]): Promise<void> {
  const before = opened.length
  const wire = await readWire(url, { stopAfterMs: 150 })
  expect(wire.events.map((e) => e.data)).toEqual(['open'])
  await waitUntil(() => opened.length > before && opened[before].signal.aborted, 1000)
  expect(await opened[before].closed).toBe('disconnect')
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

function listenExpress(app: express.Express): Promise<string> {
  return new Promise((resolve) => {
    const server: Server = app.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      resolve(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`)
    })
    cleanups.push(
      () =>
        new Promise((r) => {
          server.closeAllConnections()
          server.close(() => r())
        }),
    )
  })
}

describe('Express 5', () => {
  it('streams with expressEventStream and sees the client leave', async () => {
    const opened: EventStream[] = []
    const app = express()
    app.get('/ticks', expressEventStream(threeTicks))
    app.get('/forever', expressEventStream(forever(opened)))
    const url = await listenExpress(app)
    await expectTicks(`${url}/ticks`)
    await expectDisconnectSeen(`${url}/forever`, opened)
  })
})

describe('Fastify 5', () => {
  it('streams on the hijacked reply, keeping headers set by hooks', async () => {
    const opened: EventStream[] = []
    const app = Fastify()
    app.addHook('onRequest', async (_req, reply) => {
      reply.header('access-control-allow-origin', 'https://example.test')
    })
    app.get('/ticks', fastifyEventStreamHandler(threeTicks))
    app.get('/forever', (request, reply) => {
      forever(opened)(fastifyEventStream(request, reply))
    })
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(() => app.close())
    await expectTicks(`${address}/ticks`)
    const wire = await readWire(`${address}/ticks`)
    expect(wire.headers['access-control-allow-origin']).toBe('https://example.test')
    await expectDisconnectSeen(`${address}/forever`, opened)
  })
})

describe('Hono on @hono/node-server', () => {
  it('streams a Web Response and sees the client leave', async () => {
    const opened: EventStream[] = []
    const app = new Hono()
    app.get('/ticks', (c) => honoEventStream(c, threeTicks))
    app.get('/forever', (c) => honoEventStream(c, forever(opened)))
    const port = await new Promise<number>((resolve) => {
      const server = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve(info.port),
      )
      cleanups.push(
        () =>
          new Promise((r) => {
            ;(server as Server).closeAllConnections?.()
            server.close(() => r())
          }),
      )
    })
    const url = `http://127.0.0.1:${port}`
    await expectTicks(`${url}/ticks`)
    await expectDisconnectSeen(`${url}/forever`, opened)
  })
})
