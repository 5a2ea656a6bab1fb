/**
 * Fastify 5: take the raw response over (`reply.hijack()`), keep the headers
 * hooks already set (CORS...), and run the node emitter on it. Structural
 * types only: no runtime import of fastify.
 *
 * ```ts
 * app.get('/events', (request, reply) => {
 *   const stream = fastifyEventStream(request, reply)
 *   stream.send('hello')
 * })
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EventStream, EventStreamOptions } from '../event-stream.js'
import { createEventStream } from '../node.js'
import { runProducer } from '../producer.js'

/** The parts of a `FastifyRequest` used here. */
export interface FastifyRequestLike {
  raw: IncomingMessage
}

/** The parts of a `FastifyReply` used here. */
export interface FastifyReplyLike {
  raw: ServerResponse
  hijack(): unknown
  getHeaders(): Record<string, unknown>
}

export function fastifyEventStream(
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  options: EventStreamOptions = {},
): EventStream {
  reply.hijack()
  const headers: Record<string, string | number | readonly string[]> = {}
  for (const [k, v] of Object.entries(reply.getHeaders())) {
    if (typeof v === 'string' || typeof v === 'number' || Array.isArray(v)) headers[k] = v
  }
  Object.assign(headers, options.headers)
  return createEventStream(request.raw, reply.raw, { ...options, headers })
}

/** A route handler: opens the stream and runs `producer` (a throw ends it with `completeWithError`). */
export function fastifyEventStreamHandler<
  Req extends FastifyRequestLike = FastifyRequestLike,
  Reply extends FastifyReplyLike = FastifyReplyLike,
>(
  producer: (stream: EventStream, request: Req) => unknown,
  options: EventStreamOptions = {},
): (request: Req, reply: Reply) => void {
  return (request, reply) => {
    const stream = fastifyEventStream(request, reply, options)
    runProducer(stream, () => producer(stream, request))
  }
}
