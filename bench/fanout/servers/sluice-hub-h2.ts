/**
 * The sluice hub over cleartext HTTP/2 (h2c): the same `hub.handler()` as
 * sluice-hub.ts, mounted on `node:http2` `createServer()` (the emitter takes
 * node:http2's compatibility request/response), memory store. Each subscriber
 * is a stream; the load process multiplexes many streams over a few sessions.
 * Control routes stay on HTTP/1.1 (see `serveVariant`'s `h2` option).
 *
 * The publisher is sluice-hub.ts's (the same windows, so the two compare the
 * transport and nothing else), with one difference: backpressure is each
 * subscriber's HTTP/2 stream (`res.stream`), since a session's socket is
 * shared by its streams and flow control is per stream.
 */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { createHub, memoryStore } from '../../../src/hub/index.js'
import { drainAll, serveVariant } from './common.js'

const streamOf = (res: ServerResponse) => (res as unknown as Http2ServerResponse).stream
const WINDOW_EVENTS = 32
const WINDOW_BYTES = 256 * 1024
const LAG_BYTES = 512 * 1024

await serveVariant(
  () => {
    const hub = createHub({ store: memoryStore() })
    const handle = hub.handler()
    const responses = new Set<ServerResponse>()
    const inflight: Promise<string>[] = []
    let published = 0
    let base = 0
    const lag = () => {
      const subscribers = hub.metrics.connections
      return subscribers === 0 ? 0 : published - (hub.metrics.delivered - base) / subscribers
    }
    const caughtUp = async (window: number) => {
      for (let i = 0; i < 10_000 && lag() > window; i++) await new Promise((r) => setTimeout(r, 1))
      await drainAll(responses, streamOf)
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
          const window = Math.max(
            1,
            Math.min(WINDOW_EVENTS, Math.floor(WINDOW_BYTES / data.length)),
          )
          const lagWindow = Math.max(1, Math.floor(LAG_BYTES / data.length))
          if (inflight.length >= window)
            return Promise.race(inflight).then(() => caughtUp(lagWindow))
          if (lag() > lagWindow) return caughtUp(lagWindow)
          return drainAll(responses, streamOf)
        },
      },
    }
  },
  { h2: true },
)
