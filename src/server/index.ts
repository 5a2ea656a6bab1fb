/**
 * `sluice/server`: an event-stream emitter with Spring `SseEmitter`'s
 * vocabulary over a node:http response or a Web `Response`, plus thin
 * framework adapters (see docs/server.md).
 */
export {
  EventStream,
  StreamClosedError,
  defaultFormatError,
  readLastEventId,
} from './event-stream.js'
export type { CloseReason, EventStreamOptions, SendEvent, Sink } from './event-stream.js'
export { createEventStream, eventStreamHandler } from './node.js'
export type { NodeRequest, NodeResponse } from './node.js'
export { createWebEventStream, eventStreamResponse } from './web.js'
export type { WebEventStream } from './web.js'
export { expressEventStream } from './adapters/express.js'
export { fastifyEventStream, fastifyEventStreamHandler } from './adapters/fastify.js'
export type { FastifyReplyLike, FastifyRequestLike } from './adapters/fastify.js'
export { honoEventStream } from './adapters/hono.js'
export type { HonoContextLike } from './adapters/hono.js'
