/**
 * Who may publish, checked before a body is read: the origin (a page on
 * another site only from an origin --cors-origin allows; without CORS configured, a cross-site
 * request is refused only when it carries cookies), where the token may
 * come from (the cookie only where it may speak, and only for JSON: CSRF),
 * then the token's claim (auth.ts). Used by `POST /publish` and by routes that
 * publish in effect, such as sluice serve's `POST /chat`.
 */
import type { IncomingMessage } from 'node:http'
import { SluiceError } from '../protocol/errors.js'
import type { Authorizer, TokenSource } from './auth.js'
import { type CorsOptions, cookieAllowed, isJsonType, originAllowed, sameOrigin } from './cors.js'
import type { RefusedReason } from './metrics.js'

/** What the guard needs of a hub (a `Hub` is one; named apart so this file stays below hub.ts). */
export interface GuardedHub {
  readonly options: { readonly cors?: CorsOptions }
  readonly metrics: { refuse(reason: RefusedReason): void }
  readonly authorizer: Promise<Authorizer>
}

/** What the guard reads of a request, whichever runtime it came from. */
export interface GuardRequest {
  url: URL
  header(name: string): string | null
}

function guardRequest(req: IncomingMessage): GuardRequest {
  return {
    url: new URL(req.url ?? '/', 'http://localhost'),
    header(name) {
      const v = req.headers[name]
      return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
    },
  }
}

/** The refusal reason of /metrics (sluice_hub_refused_total) per error code. */
export const REFUSED: Record<string, RefusedReason> = {
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  BODY_TOO_LARGE: 'body_too_large',
  INVALID_JSON: 'bad_request',
  BAD_REQUEST: 'bad_request',
  CORS_REFUSED: 'cors',
}

const hostOf = (req: GuardRequest): string => req.header('host') ?? req.url.host

/** Where a request's token may come from (the cookie only where it may speak for it). */
export function tokenSource(hub: GuardedHub, req: GuardRequest): TokenSource {
  const allowed = cookieAllowed(hub.options.cors, req.header('origin'), hostOf(req))
  return {
    authorization: req.header('authorization'),
    cookie: allowed ? req.header('cookie') : null,
    accessToken: req.url.searchParams.get('access_token'),
  }
}

/** A token only the cookie carries (no Authorization header, no access_token). */
function cookieOnly(from: TokenSource): boolean {
  return !from.authorization && !from.accessToken && !!from.cookie
}

/**
 * What every publishing request passes before its body is read: a page on
 * another site publishes only from an origin --cors-origin allows, and the
 * cookie speaks only where it may and only for JSON. Returns where its token is.
 */
export function publishGuard(hub: GuardedHub, req: GuardRequest): TokenSource {
  const cors = hub.options.cors
  const origin = req.header('origin')
  // With CORS configured, only its origins; without, only requests carrying cookies are
  // refused (the CSRF risk): one without them may come through a dev proxy that
  // rewrites Host (Vite's changeOrigin) to a server that configured no CORS.
  const cookies = req.header('cookie') !== null
  if (
    (cors !== undefined || cookies) &&
    origin &&
    !sameOrigin(origin, hostOf(req)) &&
    !(cors && originAllowed(cors, origin))
  ) {
    throw new SluiceError(
      'CORS_REFUSED',
      `Origin ${origin} may not publish here; allow it with --cors-origin.`,
    )
  }
  const from = tokenSource(hub, req)
  // CSRF: a form or a "simple" fetch can send the cookie with a text body and
  // no preflight; a publish the cookie authorizes must be JSON.
  if (cookieOnly(from) && !isJsonType(req.header('content-type'))) {
    throw new SluiceError(
      'UNSUPPORTED_MEDIA_TYPE',
      'A publish authorized by the cookie must be sent as Content-Type: application/json.',
    )
  }
  return from
}

/**
 * `POST /publish`'s rules for another route that publishes in effect
 * (sluice serve's `POST /chat`, checked as a publish to `topic`): the origin,
 * the cookie's CSRF rule, then the token's publish claim. Throws the same
 * 401/403/415 SluiceErrors, counted in /metrics as the hub's refusals.
 */
export async function authorizePublish(
  hub: GuardedHub,
  req: IncomingMessage,
  topic: string,
): Promise<string | undefined> {
  try {
    const from = publishGuard(hub, guardRequest(req))
    // The subject: the caller may bind what it starts to who asked (sluice serve's runs).
    return (await (await hub.authorizer).check('publish', [topic], from))?.sub
  } catch (err) {
    if (err instanceof SluiceError) hub.metrics.refuse(REFUSED[err.code] ?? err.code.toLowerCase())
    throw err
  }
}

/**
 * The verified `sub` of a request's token, from wherever the token may come
 * (401 for a bad token; undefined without one or on an open hub). Used to let
 * only a run's owner resume or stop it.
 */
export async function requestSubject(
  hub: GuardedHub,
  req: IncomingMessage,
): Promise<string | undefined> {
  try {
    const token = await (await hub.authorizer).verified(tokenSource(hub, guardRequest(req)))
    return token?.claims.sub
  } catch (err) {
    if (err instanceof SluiceError) hub.metrics.refuse(REFUSED[err.code] ?? err.code.toLowerCase())
    throw err
  }
}

/**
 * `GET /metrics` with a key (issue 17 row 17: it was open): a token whose
 * sluice claim has `"metrics": true` (401 without a token, 403 without the claim).
 * Open without a key.
 */
export async function authorizeMetrics(hub: GuardedHub, req: GuardRequest): Promise<void> {
  const authorizer = await hub.authorizer
  if (!authorizer.enabled) return
  const token = await authorizer.verified(tokenSource(hub, req))
  if (!token) {
    throw new SluiceError(
      'UNAUTHORIZED',
      'Metrics need a token whose sluice claim has "metrics": true (Authorization: Bearer).',
    )
  }
  if (token.grant.metrics !== true) {
    throw new SluiceError(
      'FORBIDDEN',
      'The token does not allow reading metrics (claim sluice.metrics).',
    )
  }
}
