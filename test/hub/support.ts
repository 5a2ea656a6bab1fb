/**
 * Parts shared by the hub tests: a hub served over node:http on a loopback
 * port, and publishing to it over HTTP (reading: test/helpers/sse.ts).
 */
import { createServer, type Server } from 'node:http'
import type { Hub } from '../../src/hub/index.js'
import { listenLoopback } from '../helpers/http.js'

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
