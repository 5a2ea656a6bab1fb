/**
 * One error class for the whole toolkit. `code` discriminates, so callers can
 * branch without parsing messages; the message says what was wrong and what to do.
 *
 * ERROR_CODES (error-codes.ts) is the one registry of codes and their
 * meanings; the code union is derived from it. HTTP_STATUS here is each
 * code's default HTTP status when it answers a request. docs/errors.md is
 * checked against both by test/protocol/error-codes.test.ts.
 */

import type { ERROR_CODES } from './error-codes.js'

/** Every code sluice raises or answers with (see ERROR_CODES, docs/errors.md). */
export type SluiceErrorCode = keyof typeof ERROR_CODES

/** The HTTP status a request refused with each code gets; absent: not an HTTP answer (500 INTERNAL if one escapes). */
export const HTTP_STATUS: { readonly [K in SluiceErrorCode]?: number } = {
  // server
  INTERNAL: 500,
  // sluice serve (HTTP answers; see docs/server.md)
  INVALID_JSON: 400,
  MISSING_MESSAGE: 400,
  BODY_TOO_LARGE: 413,
  METHOD_NOT_ALLOWED: 405,
  SHUTTING_DOWN: 503,
  APP_NOT_BUILT: 503,
  BAD_GATEWAY: 502,
  // hub
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  STORE_ERROR: 503,
  CORS_REFUSED: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // resumable runs
  RUN_NOT_FOUND: 404,
  RUN_LIMIT: 503,
  RUN_BUDGET: 503,
  RUN_EXISTS: 409,
  RUN_FORBIDDEN: 403,
}

export interface SluiceErrorOptions {
  cause?: unknown
  /** The HTTP status of a request refused with this error (default: the code's, from HTTP_STATUS). */
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
    this.status = options?.status ?? HTTP_STATUS[code]
  }
}

export function isSluiceError(err: unknown, code?: SluiceErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code)
}
