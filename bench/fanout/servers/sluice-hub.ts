/**
 * The sluice hub, as `sluice serve` runs it: `hub.handler()` serves
 * `GET /events?topic=bench`, the publisher calls `hub.publish('bench', data)`.
 * Memory store by default; `REDIS_URL` set means `redisStore({ url })`, so
 * every event goes through Redis and back before it fans out.
 *
 * The hub never makes a publisher wait for subscribers (each has a bounded
 * buffer instead). To drive it "as fast as backpressure allows" like the
 * other variants, the publisher here also waits for responses that asked for
 * 'drain' — the same rule better-sse gets.
 */
import type { ServerResponse } from 'node:http'
import { createHub, memoryStore, redisStore } from '../../../src/hub/index.js'
import { drainAll, serveVariant } from './common.js'

const socketOf = (res: ServerResponse) => res.socket

await serveVariant(async () => {
  const url = process.env.REDIS_URL
  const hub = createHub({ store: url ? await redisStore({ url }) : memoryStore() })
  const handle = hub.handler()
  const responses = new Set<ServerResponse>()
  return {
    handler(req, res) {
      responses.add(res)
      res.once('close', () => responses.delete(res))
      handle(req, res)
    },
    fanout: {
      count: () => hub.metrics.connections,
      publish(data) {
        // The socket, not the response: sluice writes shared event bytes to it directly.
        return hub.publish('bench', data).then(() => drainAll(responses, socketOf))
      },
    },
  }
})
