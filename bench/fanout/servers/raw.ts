/**
 * Baseline: plain `node:http`, no library. Encode once, `res.write` to each
 * subscriber, and wait for `drain` on any response that asked for it.
 */
import type { ServerResponse } from 'node:http'
import { drainAll, serveVariant } from './common.js'

await serveVariant(() => {
  const subscribers = new Set<ServerResponse>()
  return {
    handler(req, res) {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      })
      res.write(': ok\n\n')
      subscribers.add(res)
      req.once('close', () => subscribers.delete(res))
    },
    fanout: {
      count: () => subscribers.size,
      publish(data) {
        const bytes = Buffer.from('data:' + data + '\n\n')
        for (const res of subscribers) res.write(bytes)
        return drainAll(subscribers)
      },
    },
  }
})
