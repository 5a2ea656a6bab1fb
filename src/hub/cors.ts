/**
 * CORS for the hub's routes: allowed origins, credentials (cookies carry
 * tokens), a preflight for `POST /publish`, and the hub's response headers
 * exposed to scripts.
 */
import { SluiceError } from '../protocol/errors.js'
import { RESUME_URL_HEADER } from '../protocol/headers.js'

export interface CorsOptions {
  /**
   * Allowed origins (`https://app.example`), or `'*'` for any. `*` is answered
   * as `*`, never with credentials: any site may read public topics, and no
   * site's request carries the user's cookie to the hub (the hub ignores it).
   */
  origins: readonly string[] | '*'
  /** Send `Access-Control-Allow-Credentials: true` (default true). */
  credentials?: boolean
  /** Preflight cache, seconds (default 600). */
  maxAge?: number
}

export const EXPOSED_HEADERS = `Sluice-History, ${RESUME_URL_HEADER}, Content-Type`
const ALLOWED_HEADERS = 'Authorization, Content-Type, Last-Event-ID, Cache-Control'

export function originAllowed(cors: CorsOptions, origin: string): boolean {
  return cors.origins === '*' || cors.origins.includes(origin)
}

/** Headers for an actual (non-preflight) response; empty when there is no Origin or it is not allowed. */
export function corsHeaders(
  cors: CorsOptions | undefined,
  origin: string | null | undefined,
): Record<string, string> {
  if (!cors || !origin || !originAllowed(cors, origin)) return {}
  if (cors.origins === '*') {
    return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED_HEADERS }
  }
  const h: Record<string, string> = {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'Origin',
  }
  if (cors.credentials !== false) h['access-control-allow-credentials'] = 'true'
  return h
}

/** Headers for a preflight answer (204). */
export function preflightHeaders(
  cors: CorsOptions,
  origin: string,
  methods = 'GET, POST, OPTIONS',
): Record<string, string> {
  return {
    ...corsHeaders(cors, origin),
    'access-control-allow-methods': methods,
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': String(cors.maxAge ?? 600),
  }
}

/**
 * The one CORS preflight answer (the hub's routes and `sluice serve`'s):
 * the 204's headers for an allowed origin; a 403 `CORS_REFUSED` otherwise.
 */
export function preflight(
  cors: CorsOptions | undefined,
  origin: string | null | undefined,
  methods?: string,
): Record<string, string> {
  if (!cors || !origin || !originAllowed(cors, origin)) {
    throw new SluiceError(
      'CORS_REFUSED',
      `Origin ${origin ?? '(none)'} is not allowed; add it with --cors-origin.`,
    )
  }
  return preflightHeaders(cors, origin, methods)
}

/** Whether `origin` is the hub's own (a page served from `host`). */
export function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}

/**
 * Whether the browser's cookie may speak for a request: no Origin (not a
 * browser's cross-site request), the hub's own origin, or an origin listed by
 * name in `cors.origins`; never for `*`, which any site matches.
 */
export function cookieAllowed(
  cors: CorsOptions | undefined,
  origin: string | null,
  host: string,
): boolean {
  if (origin === null || sameOrigin(origin, host)) return true
  return Array.isArray(cors?.origins) && (cors.origins as readonly string[]).includes(origin)
}

/** `application/json` or `application/*+json`, parameters allowed. */
export function isJsonType(contentType: string | null): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType ?? '')
}
