/**
 * The sluice hub, as `sluice serve` runs it: `hub.handler()` serves
 * `GET /events?topic=bench`, the publisher calls `hub.publish('bench', data)`.
 * Memory store by default; `REDIS_URL` set means `redisStore({ url })`, so
 * every event goes through Redis and back before it fans out.
 *
 * The hub never makes a publisher wait for subscribers (each has a bounded
 * buffer instead). To drive it "as fast as backpressure allows" like the
 * other variants, the publisher here also waits for sockets that asked for
 * 'drain' — the same rule better-sse gets (the socket, not the response:
 * sluice writes shared event bytes to it directly).
 *
 * Publishes are pipelined: up to PUBLISH_WINDOW in flight, as many concurrent
 * `POST /publish` requests would be. With the memory store each resolves at
 * once, so this changes nothing there; on Redis it lets one XREAD bring back a
 * batch instead of one event per round trip.
 */
import type { ServerResponse } from 'node:http'
import { createHub, memoryStore, redisStore } from '../../../src/hub/index.js'
import { drainAll, serveVariant } from './common.js'

const socketOf = (res: ServerResponse) => res.socket
const PUBLISH_WINDOW = 32

await serveVariant(async () => {
  const url = process.env.REDIS_URL
  const hub = createHub({ store: url ? await redisStore({ url }) : memoryStore() })
  const handle = hub.handler()
  const responses = new Set<ServerResponse>()
  const inflight: Promise<string>[] = []
  const wait = () => drainAll(responses, socketOf)
  return {
    handler(req, res) {
      responses.add(res)
      res.once('close', () => responses.delete(res))
      handle(req, res)
    },
    fanout: {
      count: () => hub.metrics.connections,
      publish(data) {
        const p = hub.publish('bench', data)
        inflight.push(p)
        p.then(() => inflight.splice(inflight.indexOf(p), 1))
        if (inflight.length >= PUBLISH_WINDOW) return Promise.race(inflight).then(wait)
        return wait()
      },
    },
  }
})
