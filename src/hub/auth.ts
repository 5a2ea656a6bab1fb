/**
 * JWT authorization for the hub (jose): who may publish to and subscribe to
 * which topics. jose is an optional peer dependency, loaded when a key is
 * configured, so client-only and open-hub users never install it.
 *
 * The claim (Mercure-like; the claim name is configurable):
 *
 *   { "sluice": { "publish": ["orders/*"], "subscribe": ["orders/42", "news"] } }
 *
 * A selector is a topic name, or a pattern where `*` matches any run of
 * characters (`orders/*`, `*` for all). Tokens come from
 * `Authorization: Bearer`, a cookie (`sluice_token`), or `?access_token=`
 * (for the browser's native EventSource, which cannot set headers).
 */
import type { JWTPayload } from 'jose'
import { SluiceError } from '../protocol/errors.js'

export interface HubAuthOptions {
  /** HS256 shared secret. */
  secret?: string | Uint8Array
  /** RS256 or ES256 public key (PEM, SPKI: `-----BEGIN PUBLIC KEY-----`), or a CryptoKey. */
  publicKey?: string | CryptoKey
  /** Accepted algorithms. Default: HS256 with `secret`, RS256 or ES256 with `publicKey`. */
  algorithms?: string[]
  /** Let clients without a token subscribe to public topics. Publishing always needs a token. */
  anonymous?: boolean
  /** Topics (names or `*` patterns) that need a subscribe claim even with `anonymous`. Default `['private/*']`. */
  privateTopics?: string[]
  /** Cookie read for the token. Default `sluice_token`. */
  cookieName?: string
  /** Name of the claim holding `{ publish, subscribe }`. Default `sluice`. */
  claim?: string
  /** Required `iss` / `aud`, when set. */
  issuer?: string
  audience?: string
}

export interface TokenSource {
  authorization?: string | null
  cookie?: string | null
  accessToken?: string | null
}

/** Checks one request's rights. Throws `UNAUTHORIZED` (401) or `FORBIDDEN` (403) SluiceErrors. */
/** What a verified token says beyond its grants. */
export interface TokenClaims {
  /** The `sub` claim, when it is a non-empty string. */
  sub?: string
  /** The `exp` claim (seconds since the epoch), when present. */
  exp?: number
}

export interface Authorizer {
  /** False when no key is configured: everyone may publish and subscribe. */
  readonly enabled: boolean
  check(
    action: 'publish' | 'subscribe',
    topics: readonly string[],
    from: TokenSource,
  ): Promise<TokenClaims | undefined>
  /**
   * The request's token, verified (401 for a bad one): its claims and its
   * sluice claim object (`{ publish, subscribe, metrics }`); null without a
   * token or a key (an open hub).
   */
  verified(
    from: TokenSource,
  ): Promise<{ claims: TokenClaims; grant: Record<string, unknown> } | null>
}

/**
 * `*` matches any run of characters (`/` included); everything else is
 * literal. Linear in the topic's length whatever the pattern: the parts
 * between stars are found left to right with indexOf, the first anchored at
 * the start and the last at the end (a glob of `*` alone never needs to
 * backtrack, so the leftmost match of each part is always right).
 */
export function matchTopic(selector: string, topic: string): boolean {
  if (selector === '*') return true
  if (selector.indexOf('*') === -1) return selector === topic
  const parts = selector.split('*')
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  if (topic.length < first.length + last.length) return false
  if (!topic.startsWith(first) || !topic.endsWith(last)) return false
  let at = first.length
  const end = topic.length - last.length
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string
    if (part === '') continue
    const found = topic.indexOf(part, at)
    if (found === -1 || found + part.length > end) return false
    at = found + part.length
  }
  return true
}

function unauthorized(message: string): SluiceError {
  return new SluiceError('UNAUTHORIZED', message)
}

function forbidden(message: string, topic: string): SluiceError {
  return new SluiceError('FORBIDDEN', message, { topic })
}

/** The token of a request: the Authorization header, then the cookie, then `?access_token=`. */
export function findToken(from: TokenSource, cookieName: string): string | null {
  const auth = from.authorization
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (!m) throw unauthorized('The Authorization header must be `Bearer <JWT>`.')
    return m[1]
  }
  if (from.cookie) {
    for (const part of from.cookie.split(';')) {
      const eq = part.indexOf('=')
      if (eq !== -1 && part.slice(0, eq).trim() === cookieName) {
        const v = part.slice(eq + 1).trim()
        if (!v) continue
        try {
          return decodeURIComponent(v)
        } catch {
          throw unauthorized(`The ${cookieName} cookie is not a valid token (bad % encoding).`)
        }
      }
    }
  }
  return from.accessToken || null
}

type Jose = typeof import('jose')
let jose: Promise<Jose> | undefined

/** jose, loaded on first use; a clear MISSING_DEPENDENCY when it is not installed. */
function loadJose(): Promise<Jose> {
  jose ??= import('jose').catch((err) => {
    jose = undefined
    throw new SluiceError(
      'MISSING_DEPENDENCY',
      "The hub's JWT auth needs the 'jose' package, an optional peer dependency of sluice. Install it: npm install jose",
      {},
      { cause: err },
    )
  })
  return jose
}

/**
 * Refuse an `auth` option that names no usable key (a `secret` read from an
 * unset variable, an empty one, no `publicKey`): without a key the hub would
 * run open, the opposite of what `auth` asked for. Synchronous, so
 * `createHub` throws at once; the PEM itself is checked by createAuthorizer.
 */
export function checkAuthOptions(options: HubAuthOptions | undefined): void {
  if (options === undefined) return
  const { secret, publicKey } = options
  if (secret !== undefined && publicKey !== undefined) {
    throw new SluiceError(
      'INVALID_ARGUMENT',
      'Give the hub either `secret` (HS256) or `publicKey` (RS256/ES256), not both.',
      { option: 'auth' },
    )
  }
  const secretLength =
    typeof secret === 'string' ? secret.length : secret instanceof Uint8Array ? secret.length : 0
  const usable = secretLength > 0 || (publicKey !== undefined && publicKey !== '')
  if (!usable) {
    const which =
      secret !== undefined || publicKey !== undefined
        ? `\`${secret !== undefined ? 'secret' : 'publicKey'}\` is empty`
        : 'neither `secret` nor `publicKey` is set (a variable that is not set?)'
    throw new SluiceError(
      'INVALID_ARGUMENT',
      `The hub's \`auth\` option has no usable key: ${which}. Without a key the hub would be open to anyone; ` +
        'set the key (e.g. JWT_SECRET), or leave `auth` out to run an open hub on purpose.',
      { option: 'auth' },
    )
  }
}

async function resolveKey(
  options: HubAuthOptions,
): Promise<{ key: Uint8Array | CryptoKey; algorithms: string[] }> {
  checkAuthOptions(options)
  if (options.secret !== undefined) {
    const key =
      typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret
    return { key, algorithms: options.algorithms ?? ['HS256'] }
  }
  // checkAuthOptions: without a secret there is a public key.
  const publicKey = options.publicKey as string | CryptoKey
  const algs = options.algorithms ?? ['RS256', 'ES256']
  if (typeof publicKey !== 'string') return { key: publicKey, algorithms: algs }
  let lastError: unknown
  for (const alg of algs) {
    try {
      return { key: await (await loadJose()).importSPKI(publicKey, alg), algorithms: [alg] }
    } catch (err) {
      lastError = err
    }
  }
  throw new SluiceError(
    'INVALID_ARGUMENT',
    `The JWT public key is not a PEM SPKI key for ${algs.join(' or ')} (-----BEGIN PUBLIC KEY-----).`,
    {},
    { cause: lastError },
  )
}

/** Why jose refused a token, as a 401. */
function verifyError(
  err: unknown,
  joseErrors: Awaited<ReturnType<typeof loadJose>>['errors'],
  algorithms: readonly string[],
): SluiceError {
  if (err instanceof joseErrors.JWTExpired) return unauthorized('The token has expired.')
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return unauthorized('The token signature does not verify with the configured key.')
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return unauthorized(`The token's algorithm is not accepted; use ${algorithms.join(' or ')}.`)
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return unauthorized(`The token's "${err.claim}" claim is not accepted: ${err.message}.`)
  }
  return unauthorized('The token is malformed (not a valid JWT).')
}

function claimsOf(payload: JWTPayload): TokenClaims {
  const claims: TokenClaims = {}
  if (typeof payload.sub === 'string' && payload.sub !== '') claims.sub = payload.sub
  if (typeof payload.exp === 'number') claims.exp = payload.exp
  return claims
}

/** The topic patterns a token's claim grants for an action. */
function selectors(
  payload: JWTPayload,
  claimName: string,
  action: 'publish' | 'subscribe',
): string[] {
  const claim = payload[claimName] as Record<string, unknown> | undefined
  const list = claim && typeof claim === 'object' ? claim[action] : undefined
  return Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : []
}

/** The hub's checker: open (everyone may do anything) without `options`, JWT rules with them. */
export async function createAuthorizer(options?: HubAuthOptions): Promise<Authorizer> {
  if (!options) {
    return {
      enabled: false,
      async check() {
        return undefined
      },
      async verified() {
        return null
      },
    }
  }
  const o = options
  const { key, algorithms } = await resolveKey(options)
  const cookieName = o.cookieName ?? 'sluice_token'
  const claimName = o.claim ?? 'sluice'
  const privateTopics = o.privateTopics ?? ['private/*']
  const anonymous = o.anonymous === true
  const { jwtVerify, errors: joseErrors } = await loadJose()

  async function verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, key as any, {
        algorithms,
        issuer: o.issuer,
        audience: o.audience,
      })
      return payload
    } catch (err) {
      throw verifyError(err, joseErrors, algorithms)
    }
  }

  return {
    enabled: true,
    async verified(from) {
      const token = findToken(from, cookieName)
      if (!token) return null
      const payload = await verify(token)
      const grant = payload[claimName]
      return {
        claims: claimsOf(payload),
        grant: grant && typeof grant === 'object' ? (grant as Record<string, unknown>) : {},
      }
    },
    async check(action, topics, from) {
      const token = findToken(from, cookieName)
      const payload = token ? await verify(token) : null
      const granted = payload ? selectors(payload, claimName, action) : []
      const claims = payload ? claimsOf(payload) : undefined
      for (const topic of topics) {
        if (granted.some((s) => matchTopic(s, topic))) continue
        if (
          action === 'subscribe' &&
          anonymous &&
          !privateTopics.some((s) => matchTopic(s, topic))
        ) {
          continue
        }
        if (!payload) {
          throw unauthorized(
            action === 'publish'
              ? 'Publishing needs a token: send `Authorization: Bearer <JWT>`.'
              : `Subscribing to "${topic}" needs a token (Authorization: Bearer, the ${cookieName} cookie, or ?access_token=).`,
          )
        }
        throw forbidden(
          `The token does not allow ${action === 'publish' ? 'publishing to' : 'subscribing to'} "${topic}" (claim ${claimName}.${action}).`,
          topic,
        )
      }
      return claims
    },
  }
}
