/**
 * CORS for the hub's routes: allowed origins, credentials (cookies carry
 * tokens), a preflight for `POST /publish`, and the hub's response headers
 * exposed to scripts.
 */

export interface CorsOptions {
  /** Allowed origins (`https://app.example`), or `'*'` for any (reflected, so credentials still work). */
  origins: readonly string[] | '*'
  /** Send `Access-Control-Allow-Credentials: true` (default true). */
  credentials?: boolean
  /** Preflight cache, seconds (default 600). */
  maxAge?: number
}

export const EXPOSED_HEADERS = 'Sluice-History, Sluice-Resume-Url, Content-Type'
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
