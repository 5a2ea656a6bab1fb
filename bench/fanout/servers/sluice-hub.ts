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
 * On Redis an event reaches the subscribers after the publish resolves (when
 * this node's XREAD brings it back), and both stores hand a burst over in
 * 16 KiB slices across event-loop turns, so the drain check alone comes too early:
 * the publisher also waits while more than 64 KiB of published events has
 * not been fanned out yet. It learns what has been fanned out from a watch of
 * its own on the topic (`hub.store.watch`): the store hands each event to
 * every listener of the topic in one synchronous pass, the hub's feed among
 * them, so once this listener has seen an event, every subscriber's socket
 * is handed its bytes by the end of that tick (the hub gathers a tick's
 * events into one write per subscriber). No timers, no polling. With the memory store
 * the first ~16 KiB of a turn are fanned out inside `publish()`; past that
 * the wait engages as on Redis.
 *
 * Publishes are not awaited one by one: the store sends those of one tick to
 * Redis in one script call, so the lag window, not a round trip per event,
 * sets the pace.
 */
import type { ServerResponse } from 'node:http'
import { createHub, memoryStore, redisStore } from '../../../src/hub/index.js'
import { drainAll, serveVariant } from './common.js'

const socketOf = (res: ServerResponse) => res.socket

/**
 * Waits for the subscribers' sockets that asked for 'drain'. Closed ones are
 * dropped here as the publisher meets them, not by a 'close' listener per
 * connection: `req.once('close', ...)` cost ~190 bytes of heap per
 * connection (a closure, `once`'s bound wrapper and its state object) that
 * the idle scenario counted against the hub, which keeps no such list.
 */
function drainOpen(responses: Set<ServerResponse>): Promise<void> | undefined {
  for (const res of responses)
    if (res.socket === null || res.socket.destroyed) responses.delete(res)
  return drainAll(responses, socketOf)
}
/**
 * Published but not yet fanned out: enough for an XREAD batch of ~650 events
 * of 100 B (one of 64 KB), little enough that the batch reaches the sockets in
 * a few 16 KiB slices rather than piling up in their buffers.
 */
const LAG_BYTES = 64 * 1024
const TOPIC = 'bench'

await serveVariant(async () => {
  const url = process.env.REDIS_URL
  const hub = createHub({ store: url ? await redisStore({ url }) : memoryStore() })
  const handle = hub.handler()
  const responses = new Set<ServerResponse>()
  let published = 0
  let fannedOut = 0
  let failure: unknown = null
  /** The publisher waiting until `fannedOut` reaches `until` (it publishes one at a time). */
  let waiter: { until: number; resolve: () => void } | null = null
  await hub.store.watch(TOPIC, {
    onEvent() {
      fannedOut++
      if (waiter && fannedOut >= waiter.until) {
        const w = waiter
        waiter = null
        w.resolve()
      }
    },
  })
  const fanned = (until: number) =>
    new Promise<void>((resolve) => {
      waiter = { until, resolve }
    })
  return {
    handler(req, res) {
      responses.add(res)
      handle(req, res)
    },
    fanout: {
      count: () => hub.metrics.connections,
      publish(data) {
        if (failure) throw failure
        published++
        hub.publish(TOPIC, data).catch((err) => {
          failure ??= err
          waiter?.resolve()
        })
        const window = Math.max(1, Math.floor(LAG_BYTES / data.length))
        if (published - fannedOut > window) {
          return fanned(published - window).then(() => drainOpen(responses))
        }
        return drainOpen(responses)
      },
    },
  }
})
