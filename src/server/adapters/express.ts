/**
 * Express 5: its `req`/`res` are node:http's, so this is the node emitter as
 * a route handler. No runtime import of express.
 *
 * ```ts
 * app.get('/events', expressEventStream(async (stream) => {
 *   await stream.send({ event: 'hello', data: 'world' })
 *   stream.complete()
 * }))
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EventStream, EventStreamOptions } from '../event-stream.js'
import { createEventStream } from '../node.js'
import { runProducer } from '../producer.js'

export function expressEventStream<Req extends IncomingMessage = IncomingMessage>(
  producer: (stream: EventStream, req: Req) => unknown,
  options: EventStreamOptions | ((req: Req) => EventStreamOptions) = {},
): (req: Req, res: ServerResponse) => void {
  return (req, res) => {
    const stream = createEventStream(
      req,
      res,
      typeof options === 'function' ? options(req) : options,
    )
    runProducer(stream, () => producer(stream, req))
  }
}
