/**
 * How an event stream ends, and telling those who listen for it: the close
 * reasons, the error a closed stream answers with, completion listeners.
 */
import { SluiceError } from '../protocol/errors.js'

/** How a stream ended. */
export type CloseReason = 'complete' | 'error' | 'disconnect' | 'timeout' | 'slow-consumer'

export const CLOSE_REASONS: readonly CloseReason[] = [
  'complete',
  'error',
  'disconnect',
  'timeout',
  'slow-consumer',
]

/** The reason of an aborted `signal`, and the rejection of a send after the end. */
export class StreamClosedError extends SluiceError {
  readonly reason: CloseReason
  constructor(reason: CloseReason, cause?: unknown) {
    super('STREAM_CLOSED', closedMessage(reason), { reason }, cause === undefined ? {} : { cause })
    this.reason = reason
  }
}

function closedMessage(reason: CloseReason): string {
  switch (reason) {
    case 'complete':
      return 'The event stream was completed; nothing more can be sent on it.'
    case 'error':
      return 'The event stream ended with an error (completeWithError); nothing more can be sent on it.'
    case 'disconnect':
      return 'The client disconnected; stop producing for this stream.'
    case 'timeout':
      return 'The event stream timed out (the `timeout` option); nothing more can be sent on it.'
    case 'slow-consumer':
      return 'The client read too slowly: more than `maxBufferedBytes` were waiting, so the stream was cut. Await `send()` to follow the client’s pace.'
  }
}

export type Listener<A> = (arg: A) => void

/**
 * @internal An object told when a stream ends: what the hub registers per
 * subscriber instead of a closure (one object per connection does it all).
 */
export interface CompletionTarget {
  streamClosed(reason: CloseReason): void
}

export type Completion = Listener<CloseReason> | CompletionTarget

export function complete(target: Completion, reason: CloseReason): void {
  try {
    if (typeof target === 'function') target(reason)
    else target.streamClosed(reason)
  } catch (err) {
    // A throwing listener must not stop the others or the close itself.
    console.error('sluice: an event-stream listener threw:', err)
  }
}

export function safeCall<A>(listener: Listener<A>, arg: A): void {
  try {
    listener(arg)
  } catch (err) {
    // A throwing listener must not stop the others or the close itself.
    console.error('sluice: an event-stream listener threw:', err)
  }
}
