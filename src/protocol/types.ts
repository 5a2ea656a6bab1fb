/**
 * An event as dispatched by the parser. This is the shape
 * `@microsoft/fetch-event-source` hands to `onmessage`, so code written for it
 * keeps working.
 */
export interface EventSourceMessage {
  /** The last event ID in force (persists across events until an `id` field changes it). */
  id: string
  /** The event type; `''` when the stream named none (EventSource then calls it `message`). */
  event: string
  /** The data lines of the event, joined with LF. */
  data: string
  /** Present when this event's block carried a valid `retry` field (milliseconds). */
  retry?: number
}

/** What the encoder accepts. */
export interface EventInit {
  /** Text data; CR, LF and CRLF inside it become separate `data:` lines. Omit for an id-only block. */
  data?: string
  event?: string
  id?: string
  /** Reconnection time in milliseconds (a non-negative integer). */
  retry?: number
}
