/**
 * Parts shared by the runs tests: `sluice serve` apps in-process (memory or
 * Redis) and a chaos TCP proxy that cuts connections after a number of tokens
 * (reading the streams: test/helpers/sse.ts).
 */
import { connect, createServer, type Socket } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { createServeApp } from '../../src/cli/serve.js'
import { createHub } from '../../src/hub/hub.js'
import type { RunsOptions } from '../../src/runs/index.js'
import { redisStore } from '../../src/hub/redis-store.js'
import type { Store } from '../../src/hub/store.js'
import { listenLoopback } from '../helpers/http.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'
import { listenApp, type RunningApp } from '../helpers/serve.js'

export interface Node extends RunningApp {
  /** Requests seen, as `METHOD /path` (query left out). */
  requests: string[]
}

/** A `sluice serve` app on a loopback port, over `store` (one per node, as separate processes would have). */
export async function startNode(store?: Store, runs: RunsOptions = { retry: 50 }): Promise<Node> {
  const hub = createHub(store ? { store } : {})
  const app = createServeApp({ hub, runs, log: () => {} })
  const requests: string[] = []
  const handler = app.handler
  app.handler = (req, res) => {
    requests.push(`${req.method} ${(req.url ?? '').split('?')[0]}`)
    handler(req, res)
  }
  return { ...(await listenApp(app, 200)), requests }
}

export interface NodesOnRedis {
  redis: RedisServer
  a: Node
  b: Node
  /** Close both nodes, then stop Redis. */
  close(): Promise<void>
}

/**
 * For a `describe` block: a real redis-server and nodes A and B over it (each
 * with its own connection, as two processes would have), started before the
 * block's tests and closed after them. Call the result inside a test.
 */
export function nodesOnRedis(): () => NodesOnRedis {
  let nodes: NodesOnRedis | undefined
  beforeAll(async () => {
    nodes = await startNodesOnRedis()
  }, 30_000)
  afterAll(() => nodes?.close())
  return () => {
    if (!nodes) throw new Error('nodesOnRedis(): Redis and the nodes are not started yet')
    return nodes
  }
}

/** A real redis-server and two nodes over it, each with its own connection (as two processes would). */
export async function startNodesOnRedis(): Promise<NodesOnRedis> {
  const redis = await startRedis()
  const a = await startNode(await redisStore({ url: redis.url }))
  const b = await startNode(await redisStore({ url: redis.url }))
  return {
    redis,
    a,
    b,
    async close() {
      await a.close()
      await b.close()
      await redis.stop()
    },
  }
}

export interface ChaosProxy {
  port: number
  url: string
  /** Connections accepted, and the target port of each. */
  connections: number[]
  /** Connections the proxy cut mid-stream. */
  cuts: number
  close(): Promise<void>
}

/**
 * A TCP proxy that cuts each connection after a random 20-80 `event:token`
 * frames have passed from the server (counted across chunk boundaries).
 * `target(n)` picks the upstream port of the n-th connection (0-based).
 */
export async function startChaosProxy(
  target: (n: number) => number,
  cutAfter: () => number = () => 20 + Math.floor(Math.random() * 61),
): Promise<ChaosProxy> {
  const sockets = new Set<Socket>()
  const proxy: ChaosProxy = {
    port: 0,
    url: '',
    connections: [],
    cuts: 0,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
  const MARK = 'event:token'
  const server = createServer((client) => {
    const to = target(proxy.connections.length)
    proxy.connections.push(to)
    const upstream = connect(to, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    const limit = cutAfter()
    let seen = 0
    let tail = ''
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('data', (d) => upstream.write(d))
    upstream.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1')
      let at = text.indexOf(MARK)
      let cutAt = -1
      while (at !== -1) {
        seen++
        if (seen >= limit) {
          // Cut right after this token's frame header: the client never gets the rest of the connection.
          cutAt = at
          break
        }
        at = text.indexOf(MARK, at + MARK.length)
      }
      if (cutAt !== -1) {
        const keep = cutAt - tail.length
        if (keep > 0) client.write(d.subarray(0, keep))
        proxy.cuts++
        drop()
        return
      }
      tail = text.slice(-(MARK.length - 1))
      client.write(d)
    })
    client.on('error', drop)
    upstream.on('error', drop)
    client.on('close', drop)
    upstream.on('close', () => client.end())
  })
  Object.assign(proxy, await listenLoopback(server))
  return proxy
}

/** POST a chat message; resolves with the response (headers read, body not yet). */
export function postChat(base: string, query: string, message: string): Promise<Response> {
  return fetch(`${base}/chat?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ message }),
  })
}

/** Run `fn` over `items` with at most `limit` at once. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i], i)
      }
    }),
  )
  return out
}
