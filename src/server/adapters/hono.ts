/**
 * Hono (any runtime, including `@hono/node-server`): the Web emitter on
 * `c.req.raw`. Structural types only: no runtime import of hono.
 *
 * ```ts
 * app.get('/events', (c) => honoEventStream(c, async (stream) => {
 *   await stream.send({ event: 'hello', data: 'world' })
 *   stream.complete()
 * }))
 * ```
 */
import type { EventStream, EventStreamOptions } from '../event-stream.js'
import { eventStreamResponse } from '../web.js'

/** The part of a Hono `Context` used here. */
export interface HonoContextLike {
  req: { raw: Request }
}

export function honoEventStream(
  c: HonoContextLike,
  producer: (stream: EventStream) => unknown,
  options: EventStreamOptions = {},
): Response {
  return eventStreamResponse(c.req.raw, producer, options)
}
