/**
 * Hono `streamSSE` on `@hono/node-server`: one stream per connection, held
 * open; `writeSSE` to each per message. `writeSSE` returns a promise that
 * settles when the stream has taken the chunk, which is Hono's only
 * backpressure signal: the publisher awaits them all.
 */
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { serveVariant } from './common.js'

await serveVariant(() => {
  const streams = new Set<SSEStreamingApi>()
  const app = new Hono()
  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      streams.add(stream)
      await stream.write(': ok\n\n')
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      streams.delete(stream)
    }),
  )
  const listener = getRequestListener(app.fetch)
  return {
    handler: (req, res) => void listener(req, res),
    fanout: {
      count: () => streams.size,
      publish(data) {
        const writes: Promise<unknown>[] = []
        for (const s of streams) writes.push(s.writeSSE({ data }))
        return Promise.all(writes).then(() => undefined)
      },
    },
  }
})
