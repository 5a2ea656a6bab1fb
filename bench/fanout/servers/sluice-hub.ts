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
 * Publishes are pipelined: up to 32 in flight and at most 256 KiB, as many
 * concurrent `POST /publish` requests would be. With the memory store each
 * resolves at once, so this changes nothing there; on Redis it lets one XREAD
 * bring back a batch instead of one event per round trip.
 *
 * On Redis an event reaches the subscribers after the publish resolves (when
 * this node's XREAD brings it back), so the drain check alone comes too early:
 * the publisher also waits while more than 512 KiB of published events has
 * not been written to the subscribers yet (`hub.metrics.delivered`). Without
 * that, a lagging XREAD hands every subscriber a batch of 64 KB events at
 * once, past its 1 MiB buffer, and the hub cuts them all as slow consumers.
 */
import type { ServerResponse } from 'node:http'
import { createHub, memoryStore, redisStore } from '../../../src/hub/index.js'
import { drainAll, serveVariant } from './common.js'

const socketOf = (res: ServerResponse) => res.socket
const WINDOW_EVENTS = 32
const WINDOW_BYTES = 256 * 1024
/** Published but not yet fanned out: half a subscriber's buffer (the hub's default cap is 1 MiB). */
const LAG_BYTES = 512 * 1024

await serveVariant(async () => {
  const url = process.env.REDIS_URL
  const hub = createHub({ store: url ? await redisStore({ url }) : memoryStore() })
  const handle = hub.handler()
  const responses = new Set<ServerResponse>()
  const inflight: Promise<string>[] = []
  let published = 0
  let base = 0
  // Events published but not yet written to every subscriber.
  const lag = () => {
    const subscribers = hub.metrics.connections
    return subscribers === 0 ? 0 : published - (hub.metrics.delivered - base) / subscribers
  }
  const caughtUp = async (window: number) => {
    for (let i = 0; i < 10_000 && lag() > window; i++) await new Promise((r) => setTimeout(r, 1))
    await drainAll(responses, socketOf)
  }
  return {
    handler(req, res) {
      responses.add(res)
      res.once('close', () => responses.delete(res))
      handle(req, res)
    },
    fanout: {
      count: () => hub.metrics.connections,
      publish(data) {
        if (published === 0) base = hub.metrics.delivered
        published++
        const p = hub.publish('bench', data)
        inflight.push(p)
        p.then(() => inflight.splice(inflight.indexOf(p), 1))
        const window = Math.max(1, Math.min(WINDOW_EVENTS, Math.floor(WINDOW_BYTES / data.length)))
        const lagWindow = Math.max(1, Math.floor(LAG_BYTES / data.length))
        if (inflight.length >= window) return Promise.race(inflight).then(() => caughtUp(lagWindow))
        if (lag() > lagWindow) return caughtUp(lagWindow)
        return drainAll(responses, socketOf)
      },
    },
  }
})
