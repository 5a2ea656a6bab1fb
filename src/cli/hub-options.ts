/**
 * The hub's `sluice serve` flags: `--redis URL`, `--history N`,
 * `--history-age MS`, `--jwt-secret S`, `--jwt-public-key FILE`,
 * `--anonymous`, `--private-topic P`, `--cors-origin O`, `--max-buffer BYTES`.
 */
import { readFile } from 'node:fs/promises'
import { SluiceError } from '../protocol/errors.js'
import type { HubAuthOptions } from '../hub/auth.js'
import { createHub, type Hub } from '../hub/hub.js'
import { memoryStore } from '../hub/memory-store.js'
import type { Store } from '../hub/store.js'

export interface HubFlags {
  redis?: string
  history?: number
  historyAge?: number
  jwtSecret?: string
  jwtPublicKey?: string
  anonymous?: boolean
  privateTopics?: string[]
  corsOrigins?: string[]
  maxBuffer?: number
}

export const HUB_HELP = `Hub (GET /events?topic=a&topic=b, POST /publish, GET /metrics):
  --redis URL            share topics with other nodes on Redis Streams (default: in memory)
  --history N            events kept per topic for Last-Event-ID replay (default 1000)
  --history-age MS       drop history older than this (default: no age limit)
  --jwt-secret S         require HS256 JWTs (publishing always; subscribing unless --anonymous)
  --jwt-public-key FILE  require RS256/ES256 JWTs verified with this PEM public key
  --anonymous            with a key: allow subscribing to public topics without a token
  --private-topic P      with --anonymous: topics (or * patterns) that still need a claim (default private/*)
  --cors-origin O        allow browser origin O (repeatable; * for any)
  --max-buffer BYTES     bytes a subscriber may fall behind before it is cut (default 1048576)
  Without a key the hub is open: anyone who can reach it may publish and subscribe.`

/**
 * Consume the hub flag at `argv[i]` (and its value). Returns the index of the
 * last argument consumed, or -1 when `argv[i]` is not a hub flag.
 */
export function parseHubFlag(argv: string[], i: number, flags: HubFlags): number {
  let arg = argv[i]
  let value: string | undefined
  const eq = arg.indexOf('=')
  if (arg.startsWith('--') && eq !== -1) {
    value = arg.slice(eq + 1)
    arg = arg.slice(0, eq)
  }
  const take = (): string => {
    if (value !== undefined) return value
    const v = argv[i + 1]
    if (v === undefined) throw new SluiceError('INVALID_ARGUMENT', `${arg} needs a value.`)
    i++
    return v
  }
  const int = (name: string, v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) {
      throw new SluiceError('INVALID_ARGUMENT', `${name} needs a positive integer, got '${v}'.`)
    }
    return n
  }
  switch (arg) {
    case '--redis':
      flags.redis = take()
      return i
    case '--history':
      flags.history = int(arg, take())
      return i
    case '--history-age':
      flags.historyAge = int(arg, take())
      return i
    case '--jwt-secret':
      flags.jwtSecret = take()
      return i
    case '--jwt-public-key':
      flags.jwtPublicKey = take()
      return i
    case '--anonymous':
      flags.anonymous = true
      return i
    case '--private-topic':
      ;(flags.privateTopics ??= []).push(take())
      return i
    case '--cors-origin':
      ;(flags.corsOrigins ??= []).push(take())
      return i
    case '--max-buffer':
      flags.maxBuffer = int(arg, take())
      return i
    default:
      return -1
  }
}

/** Build the hub the flags describe, and the start-up lines that say what it is. */
export async function createServeHub(flags: HubFlags): Promise<{ hub: Hub; banner: string[] }> {
  const banner: string[] = []
  const history = { maxLength: flags.history ?? 1000, maxAge: flags.historyAge }
  let store: Store
  if (flags.redis) {
    const { redisStore } = await import('../hub/redis-store.js')
    store = await redisStore({ url: flags.redis, ...history })
    banner.push(
      `hub: topics on Redis ${redactUrl(flags.redis)}, history ${history.maxLength} per topic`,
    )
  } else {
    store = memoryStore(history)
    banner.push(`hub: topics in memory, history ${history.maxLength} per topic`)
  }
  let auth: HubAuthOptions | undefined
  if (flags.jwtSecret !== undefined && flags.jwtPublicKey !== undefined) {
    throw new SluiceError('INVALID_ARGUMENT', 'Use --jwt-secret or --jwt-public-key, not both.')
  }
  if (flags.jwtSecret !== undefined || flags.jwtPublicKey !== undefined) {
    auth = {
      anonymous: flags.anonymous === true,
      privateTopics: flags.privateTopics,
    }
    if (flags.jwtSecret !== undefined) auth.secret = flags.jwtSecret
    else auth.publicKey = await readFile(flags.jwtPublicKey!, 'utf8')
    banner.push(
      `hub: JWT required to publish; to subscribe ${flags.anonymous ? 'only to private topics' : 'always'}`,
    )
  } else {
    if (flags.anonymous) {
      throw new SluiceError(
        'INVALID_ARGUMENT',
        '--anonymous only makes sense with --jwt-secret or --jwt-public-key.',
      )
    }
    banner.push(
      'hub: OPEN — no --jwt-secret/--jwt-public-key, so anyone who can reach this server may publish and subscribe (fine for local use)',
    )
  }
  const hub = createHub({
    store,
    auth,
    cors: flags.corsOrigins
      ? { origins: flags.corsOrigins.includes('*') ? '*' : flags.corsOrigins }
      : undefined,
    maxBufferedBytes: flags.maxBuffer,
  })
  await hub.authorizer // a bad key fails at start-up, not at the first request
  return { hub, banner }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
