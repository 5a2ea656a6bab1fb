/**
 * `fetchEventSource`: a drop-in for `@microsoft/fetch-event-source`. Same
 * options, same callbacks, same return-value contracts; where that package's
 * behaviour is a bug, sluice follows the spec (docs/client.md lists each).
 */
import type { EventSourceMessage } from '../protocol/types.js'
import type { FetchEventSourceInit } from './connection.js'
import { openStream } from './open.js'

export { EventStreamContentType } from './connection.js'
export type { FetchEventSourceInit, EventSourceMessage }

/**
 * Open an event stream with `fetch` and keep it open: resolves when `signal`
 * aborts, when the server answers 204, or after a normal end that is not
 * reconnected; rejects when `onerror` throws or on a final error (a 4xx but
 * 408/429, a wrong content type, an exhausted retry budget).
 */
export function fetchEventSource(
  input: RequestInfo | URL,
  init: FetchEventSourceInit = {},
): Promise<void> {
  return openStream(input, init)
}
