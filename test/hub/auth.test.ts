/**
 * Auth and CORS on the wire: JWT (HS256, RS256, ES256) in the Authorization
 * header, a cookie or ?access_token=; claims name the topics; 401 for a
 * missing, expired, malformed or wrongly signed token, 403 for the wrong topic.
 */
import { SignJWT, exportSPKI, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHub, type HubOptions } from '../../src/hub/index.js'
import { SluiceError } from '../../src/protocol/errors.js'
import { type ServedHub, serveHub } from './support.js'

const SECRET = 'test-secret-at-least-32-bytes-long!!'
const key = new TextEncoder().encode(SECRET)

async function hs256(claims: object, opts: { exp?: string | number; secret?: Uint8Array } = {}) {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '1h')
    .sign(opts.secret ?? key)
}

const servers: ServedHub[] = []
async function serve(options: HubOptions): Promise<string> {
  const served = await serveHub(createHub({ heartbeat: 0, ...options }))
  servers.push(served)
  return served.url
}
afterAll(async () => {
  for (const served of servers) await served.close()
})

function pub(base: string, topic: string, headers: Record<string, string> = {}) {
  return fetch(base + '/publish', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ topic, data: 'x' }),
  })
}

/** Open a subscription and report its status (then hang up). */
async function sub(base: string, query: string, headers: Record<string, string> = {}) {
  const ac = new AbortController()
  const res = await fetch(`${base}/events?${query}`, { headers, signal: ac.signal })
  const body = res.status === 200 ? null : await res.json()
  ac.abort()
  return { status: res.status, error: body?.error as string | undefined }
}

describe('HS256, anonymous subscriptions allowed', () => {
  let base: string
  const tokens: Record<string, string> = {}
  beforeAll(async () => {
    base = await serve({ auth: { secret: SECRET, anonymous: true } })
    tokens.publishOrders = await hs256({ sluice: { publish: ['orders/*'] } })
    tokens.subscribeMine = await hs256({ sluice: { subscribe: ['private/alice'] } })
    tokens.expired = await hs256(
      { sluice: { publish: ['*'] } },
      { exp: Math.floor(Date.now() / 1000) - 60 },
    )
    tokens.wrongKey = await hs256(
      { sluice: { publish: ['*'] } },
      { secret: new TextEncoder().encode('another-secret-another-secret-00') },
    )
  })

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

  it('publishing: the table of cases', async () => {
    const cases: [string, Record<string, string>, string, number, string?][] = [
      ['no token', {}, 'orders/1', 401, 'UNAUTHORIZED'],
      ['malformed token', bearer('not.a.jwt'), 'orders/1', 401, 'UNAUTHORIZED'],
      ['not Bearer', { authorization: 'Basic abc' }, 'orders/1', 401, 'UNAUTHORIZED'],
      ['wrong signature', bearer(tokens.wrongKey), 'orders/1', 401, 'UNAUTHORIZED'],
      ['expired', bearer(tokens.expired), 'orders/1', 401, 'UNAUTHORIZED'],
      ['valid, wrong topic', bearer(tokens.publishOrders), 'news', 403, 'FORBIDDEN'],
      ['subscribe claim only', bearer(tokens.subscribeMine), 'private/alice', 403, 'FORBIDDEN'],
      ['valid, pattern match', bearer(tokens.publishOrders), 'orders/42', 200],
    ]
    for (const [name, headers, topic, status, error] of cases) {
      const res = await pub(base, topic, headers)
      const body = await res.json()
      expect({ name, status: res.status, error: body.error }).toEqual({
        name,
        status,
        error: error ?? undefined,
      })
      if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    }
  })

  it('subscribing: the table of cases', async () => {
    const t = tokens.subscribeMine
    const cases: [string, string, Record<string, string>, number, string?][] = [
      ['public topic, no token', 'topic=news', {}, 200],
      ['private topic, no token', 'topic=private/alice', {}, 401, 'UNAUTHORIZED'],
      ['private topic, claim in header', 'topic=private/alice', bearer(t), 200],
      [
        'private topic, claim in cookie',
        'topic=private/alice',
        { cookie: `a=b; sluice_token=${t}` },
        200,
      ],
      ['private topic, ?access_token=', `topic=private/alice&access_token=${t}`, {}, 200],
      ['another private topic', 'topic=private/bob', bearer(t), 403, 'FORBIDDEN'],
      ['public + granted private', 'topic=news&topic=private/alice', bearer(t), 200],
      ['public + other private', 'topic=news&topic=private/bob', bearer(t), 403, 'FORBIDDEN'],
      [
        'expired token on a public topic',
        'topic=news',
        bearer(tokens.expired),
        401,
        'UNAUTHORIZED',
      ],
      ['malformed token', 'topic=news', bearer('x.y.z'), 401, 'UNAUTHORIZED'],
    ]
    for (const [name, query, headers, status, error] of cases) {
      expect({ name, ...(await sub(base, query, headers)) }).toEqual({
        name,
        status,
        error: error ?? undefined,
      })
    }
  })
})

describe('HS256 without anonymous: every subscription needs a claim', () => {
  it('401 without a token, 200 with one', async () => {
    const base = await serve({ auth: { secret: SECRET } })
    expect((await sub(base, 'topic=news')).status).toBe(401)
    const t = await hs256({ sluice: { subscribe: ['news'] } })
    expect((await sub(base, 'topic=news', { authorization: `Bearer ${t}` })).status).toBe(200)
  })
})

describe('an auth option without a usable key', () => {
  // The README's `auth: { secret: process.env.JWT_SECRET, anonymous: true }`
  // with the variable unset ran an open hub and said nothing.
  it('createHub refuses it with INVALID_ARGUMENT instead of running an open hub', () => {
    const unset = process.env.SLUICE_TEST_SURELY_UNSET
    for (const auth of [
      { secret: unset, anonymous: true },
      { secret: '' },
      { secret: new Uint8Array(0) },
      { publicKey: '' },
      {},
    ]) {
      let caught: unknown
      try {
        createHub({ auth })
      } catch (err) {
        caught = err
      }
      expect(caught, JSON.stringify(auth)).toBeInstanceOf(SluiceError)
      expect((caught as SluiceError).code).toBe('INVALID_ARGUMENT')
      expect((caught as SluiceError).message).toMatch(/open/)
    }
  })

  it('no auth option at all is still an open hub', async () => {
    expect((await createHub().authorizer).enabled).toBe(false)
  })
})

describe('public keys: RS256 and ES256', () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    it(`${alg}: a token signed with the private key is accepted, others refused`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg)
      const other = await generateKeyPair(alg)
      const base = await serve({ auth: { publicKey: await exportSPKI(publicKey) } })
      const sign = (k: CryptoKey) =>
        new SignJWT({ sluice: { publish: ['feed'] } })
          .setProtectedHeader({ alg })
          .setExpirationTime('1h')
          .sign(k)
      expect(
        (await pub(base, 'feed', { authorization: `Bearer ${await sign(privateKey)}` })).status,
      ).toBe(200)
      expect(
        (await pub(base, 'feed', { authorization: `Bearer ${await sign(other.privateKey)}` }))
          .status,
      ).toBe(401)
      // An HS256 token "signed" with the public key text (algorithm confusion) is refused.
      const confused = await hs256({ sluice: { publish: ['*'] } })
      expect((await pub(base, 'feed', { authorization: `Bearer ${confused}` })).status).toBe(401)
    })
  }
})

describe('CORS', () => {
  let base: string
  beforeAll(async () => {
    base = await serve({ cors: { origins: ['https://app.example'] } })
  })

  it('answers the preflight of POST /publish for allowed origins only', async () => {
    const ok = await fetch(base + '/publish', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true')
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST')
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/i)
    const refused = await fetch(base + '/publish', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(refused.status).toBe(403)
    expect((await refused.json()).error).toBe('CORS_REFUSED')
  })

  it('refuses a publish from another origin; exposes the hub headers to allowed ones', async () => {
    const evil = await pub(base, 'news', { origin: 'https://evil.example' })
    expect(evil.status).toBe(403)
    const good = await pub(base, 'news', { origin: 'https://app.example' })
    expect(good.status).toBe(200)
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const ac = new AbortController()
    const res = await fetch(`${base}/events?topic=news`, {
      headers: { origin: 'https://app.example', 'last-event-id': 'abc-1' },
      signal: ac.signal,
    })
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Sluice-History/)
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Sluice-Resume-Url/)
    expect(res.headers.get('sluice-history')).toBe('reset')
    ac.abort()
  })
})
