/**
 * One error class for the whole toolkit. `code` discriminates, so callers can
 * branch without parsing messages; the message says what was wrong and what to do.
 *
 * ERROR_CODES is the one registry of codes: each code's default HTTP status
 * (when it is an answer to a request) and its meaning in a line. The code
 * union is derived from it; docs/errors.md is checked against it by
 * test/protocol/error-codes.test.ts.
 */

interface CodeInfo {
  /** The HTTP status a request refused with this code gets; none: not an HTTP answer (500 INTERNAL if one escapes). */
  readonly status?: number
  readonly meaning: string
}

export const ERROR_CODES = {
  // protocol
  EVENT_TOO_LARGE: { meaning: 'an event outgrew the parser’s maxEventSize; it was skipped' },
  INVALID_FIELD: {
    meaning:
      'an event field cannot be encoded (line break in event/id, bad retry, non-string data)',
  },
  INVALID_ENVELOPE: { meaning: 'data is not a valid {"code":...} envelope' },
  INVALID_ARGUMENT: { meaning: 'a function was called with a bad argument or option' },
  // server
  STREAM_CLOSED: { meaning: 'send() after the stream (or hub, run, runs manager) ended' },
  SLOW_CONSUMER: { meaning: 'the reader fell too far behind; the stream was cut' },
  TIMEOUT: { meaning: 'nothing arrived for heartbeatTimeout ms; the client reconnects' },
  ABORTED: { meaning: 'the client closed the connection before sending its whole body' },
  INTERNAL: { status: 500, meaning: 'a failure whose cause is not shown to the client' },
  // sluice serve (HTTP answers; see docs/server.md)
  INVALID_JSON: { status: 400, meaning: 'the request body is empty or not JSON' },
  MISSING_MESSAGE: { status: 400, meaning: 'the chat body has no message string' },
  BODY_TOO_LARGE: { status: 413, meaning: 'the request body is over the limit (64 KiB)' },
  METHOD_NOT_ALLOWED: { status: 405, meaning: 'a known path with another method (see Allow)' },
  SHUTTING_DOWN: { status: 503, meaning: 'the server is stopping' },
  MODEL_FAILED: { meaning: 'the simulated chat model failed (event: error)' },
  APP_NOT_BUILT: { status: 503, meaning: 'the demo page was not built into dist/app' },
  BAD_GATEWAY: { status: 502, meaning: 'sluice proxy could not reach its target' },
  // client
  BAD_STATUS: { meaning: 'the server answered a status other than 200 (details.status)' },
  BAD_CONTENT_TYPE: { meaning: 'a 200 that is not text/event-stream' },
  NETWORK: { meaning: 'a network failure (retried)' },
  RETRIES_EXHAUSTED: { meaning: 'maxRetries or the deadline was reached' },
  DECODE_FAILED: { meaning: 'an event’s data could not be decoded' },
  // hub
  UNAUTHORIZED: { status: 401, meaning: 'no valid token where one is needed' },
  FORBIDDEN: { status: 403, meaning: 'the token’s claims do not cover the topic' },
  BAD_REQUEST: { status: 400, meaning: 'a bad query parameter, topic, body or URL' },
  NOT_FOUND: { status: 404, meaning: 'no route or asset for the path' },
  HISTORY_RESET: { meaning: 'declared; a lost history is told by Sluice-History instead' },
  STORE_ERROR: { status: 503, meaning: 'the store failed (Redis down, a closed store)' },
  CORS_REFUSED: { status: 403, meaning: 'an origin that is not allowed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'a cookie-authorized publish that is not JSON' },
  MISSING_DEPENDENCY: { meaning: 'an optional peer dependency (ioredis) is not installed' },
  // resumable runs
  RUN_NOT_FOUND: { status: 404, meaning: 'no such run on this store (never existed, or expired)' },
  RUN_LIMIT: { status: 503, meaning: 'the node already produces maxActive runs' },
  RUN_BUDGET: {
    status: 503,
    meaning:
      'the runs of this node hold their memoryBudget (a new run refused, or a running one ended)',
  },
  RUN_EXISTS: { status: 409, meaning: 'a run with that id exists already' },
  RUN_FORBIDDEN: { status: 403, meaning: 'the run belongs to another token subject' },
  RUN_TRUNCATED: { meaning: 'a resumed run lost events older than what is kept' },
  RUN_FAILED: { meaning: 'the run’s producer threw (event: error)' },
  RUN_STOPPED: { meaning: 'the run was stopped, lost or shut down (abort reason)' },
  RUN_ENDED: { meaning: 'the run ended normally (abort reason)' },
} as const satisfies Record<string, CodeInfo>

/** Every code sluice raises or answers with (see ERROR_CODES, docs/errors.md). */
export type SluiceErrorCode = keyof typeof ERROR_CODES

export interface SluiceErrorOptions {
  cause?: unknown
  /** The HTTP status of a request refused with this error (default: the code's, from ERROR_CODES). */
  status?: number
}

export class SluiceError extends Error {
  override readonly name = 'SluiceError'
  readonly code: SluiceErrorCode
  /**
   * The HTTP status this error answers a request with; undefined when the
   * code is not an HTTP answer (such an error is answered 500 INTERNAL).
   */
  readonly status: number | undefined
  /** Extra, code-specific facts (field name, sizes...). */
  readonly details: Record<string, unknown>

  constructor(
    code: SluiceErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: SluiceErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = details
    const info: CodeInfo | undefined = ERROR_CODES[code]
    this.status = options?.status ?? info?.status
  }
}

export function isSluiceError(err: unknown, code?: SluiceErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code)
}
