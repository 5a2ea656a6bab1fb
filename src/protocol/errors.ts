/**
 * One error class for the whole toolkit. `code` discriminates, so callers can
 * branch without parsing messages; the message says what was wrong and what to do.
 * Codes are listed in docs/errors.md.
 */
export type SluiceErrorCode =
  // protocol
  | 'EVENT_TOO_LARGE'
  | 'INVALID_FIELD'
  | 'INVALID_ENVELOPE'
  | 'INVALID_ARGUMENT'
  // server
  | 'STREAM_CLOSED'
  | 'SLOW_CONSUMER'
  | 'TIMEOUT'
  // sluice serve (HTTP answers; see docs/server.md)
  | 'INVALID_JSON'
  | 'MISSING_MESSAGE'
  | 'BODY_TOO_LARGE'
  | 'METHOD_NOT_ALLOWED'
  | 'SHUTTING_DOWN'
  // client
  | 'BAD_STATUS'
  | 'BAD_CONTENT_TYPE'
  | 'NETWORK'
  | 'RETRIES_EXHAUSTED'
  | 'ABORTED'
  | 'DECODE_FAILED'
  // hub
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'HISTORY_RESET'
  | 'STORE_ERROR'
  | 'CORS_REFUSED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MISSING_DEPENDENCY'
  // resumable runs
  | 'RUN_NOT_FOUND'
  | 'RUN_LIMIT'
  | 'RUN_EXISTS'
  | 'RUN_TRUNCATED'
  | 'RUN_FAILED'
  | 'RUN_STOPPED'
  | 'RUN_ENDED'
  // HTTP answers and error events of sluice serve / sluice proxy
  | 'INTERNAL'
  | 'MODEL_FAILED'
  | 'APP_NOT_BUILT'
  | 'BAD_GATEWAY'
  | (string & {})

export class SluiceError extends Error {
  override readonly name = 'SluiceError'
  readonly code: SluiceErrorCode
  /** Extra, code-specific facts (status, field name, sizes...). */
  readonly details: Record<string, unknown>

  constructor(
    code: SluiceErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.code = code
    this.details = details
  }
}

export function isSluiceError(err: unknown, code?: SluiceErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code)
}
