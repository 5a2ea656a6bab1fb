/**
 * Mounting the hub in frameworks: Express 5 (`app.use(hub.handler())`, the
 * node:http side, with `next()` for other paths) and Hono on
 * @hono/node-server (the fetch side, under a base path).
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { openSse } from '../helpers/sse.js'
import { publish } from './support.js'

const toClose: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const close of toClose) await close()
})

describe('Express 5', () => {
  it('app.use(hub.handler()) serves the hub and passes other paths on', async () => {
    const hub = createHub()
    const app = express()
    app.use(hub.handler())
    app.get('/other', (_req, res) => {
      res.json({ other: true })
    })
    const server: Server = await new Promise((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s))
    })
    toClose.push(async () => {
      await hub.close()
      server.closeAllConnections()
      server.close()
    })
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const sub = await openSse(`${base}/events?topic=ex`)
    const { body } = await publish(base, 'ex', 'via express')
    await sub.waitFor((ev) => ev.length === 1)
    expect(sub.events[0]).toMatchObject({ id: body.id, data: 'via express' })
    sub.close()
    expect(await (await fetch(`${base}/other`)).json()).toEqual({ other: true })
  })
})

describe('Hono', () => {
  it('hub.handler({ basePath }) as a fetch handler', async () => {
    const hub = createHub()
    const handle = hub.handler({ basePath: '/hub' })
    const app = new Hono()
    app.all('/hub/*', (c) => handle(c.req.raw))
    const server = await new Promise<Server>((r) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => r(s as Server))
    })
    toClose.push(async () => {
      await hub.close()
      server.closeAllConnections()
      server.close()
    })
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub`
    const sub = await openSse(`${base}/events?topic=hono`)
    const { body } = await publish(base, 'hono', 'via hono')
    await sub.waitFor((ev) => ev.length === 1)
    expect(sub.events[0]).toMatchObject({ id: body.id, data: 'via hono' })
    sub.close()
    const missing = await fetch(`${base}/nope`)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toBe('NOT_FOUND')
  })
})
