export { fetchEventSource, EventStreamContentType } from './fetch-event-source.js'
export type { FetchEventSourceInit } from './fetch-event-source.js'
export { events } from './events.js'
export type { EventMap, EventsOptions, TypedEvent } from './events.js'
export { EventSource } from './event-source.js'
export type { EventSourceInit } from './event-source.js'
export { RESUME_URL_HEADER } from './connection.js'
export type { BodyOption, HeadersOption, RetryInfo } from './connection.js'
export {
  RetryPolicy,
  DEFAULT_RETRY,
  backoffDelay,
  backoffBounds,
  isFinalError,
  parseRetryAfter,
} from './retry.js'
export type { RetryOptions } from './retry.js'
export type { EventSourceMessage } from '../protocol/types.js'
export { SluiceError, isSluiceError } from '../protocol/errors.js'
