/**
 * `better-sse`: a Session per connection registered with one Channel;
 * `channel.broadcast` per message. The library has no backpressure API, so
 * the publisher waits on the responses it handed to `createSession`.
 */
import type { ServerResponse } from 'node:http'
import { createChannel, createSession } from 'better-sse'
import { drainAll, serveVariant } from './common.js'

await serveVariant(() => {
  const channel = createChannel()
  const responses = new Set<ServerResponse>()
  return {
    handler(req, res) {
      // The identity serializer is better-sse at its best: the data is already
      // JSON, so it is not stringified again for every session.
      createSession(req, res, { serializer: (d) => String(d) }).then((session) => {
        channel.register(session)
        responses.add(res)
        res.once('close', () => responses.delete(res))
        session.push('ok', 'hello')
      })
    },
    fanout: {
      count: () => channel.sessionCount,
      publish(data) {
        channel.broadcast(data)
        return drainAll(responses)
      },
    },
  }
})
