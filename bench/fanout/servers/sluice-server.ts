/**
 * The sluice emitter without the hub: `createEventStream` per connection, the
 * event encoded once with `encodeEventBytes`, the same bytes written to every
 * stream, and the publisher awaiting `write()` (which resolves at once below
 * the socket's high-water mark and on 'drain' above it).
 */
import { encodeEventBytes } from '../../../src/protocol/index.js'
import { createEventStream, type EventStream } from '../../../src/server/index.js'
import { serveVariant } from './common.js'

await serveVariant(() => {
  const streams = new Set<EventStream>()
  const ignore = () => {}
  return {
    handler(req, res) {
      const stream = createEventStream(req, res)
      streams.add(stream)
      stream.onCompletion(() => streams.delete(stream))
      stream.comment('ok').catch(ignore)
    },
    fanout: {
      count: () => streams.size,
      publish(data) {
        const bytes = encodeEventBytes({ data })
        const writes: Promise<void>[] = []
        for (const s of streams) writes.push(s.write(bytes).catch(ignore))
        return Promise.all(writes).then(ignore)
      },
    },
  }
})
