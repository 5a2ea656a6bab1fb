/**
 * The hub's `sluice serve` flags: `--redis URL`, `--history N`,
 * `--history-age MS`, `--jwt-secret S`, `--jwt-public-key FILE`,
 * `--anonymous`, `--private-topic P`, `--cors-origin O`, `--max-buffer BYTES`.
 */
import { readFile } from 'node:fs/promises'
import { type FlagSpecs, type FlagValues, UsageError, intFlag, unreadable } from './args.js'
import type { HubAuthOptions } from '../hub/auth.js'
import { createHub, type Hub } from '../hub/hub.js'
import { DEFAULT_MAX_TOPICS, memoryStore } from '../hub/memory-store.js'
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
  maxTopics?: number
}

export const HUB_HELP = `Hub (GET /events?topic=a&topic=b, POST /publish, GET /metrics):
  --redis URL            share topics with other nodes on Redis Streams (default: in memory);
                         several (repeat it, or a comma list): topics sharded over those Redis
                         primaries, one id still resumes any topics (docs/scaling.md);
                         redis+cluster://HOST:PORT: a shard per primary of that Redis Cluster
  --history N            events kept per topic for Last-Event-ID replay (default 1000)
  --history-age MS       drop history older than this (default: no age limit)
  --max-topics N         topics kept in memory (default 100000); past it the least recently
                         published unwatched topics are dropped, history and all
  --jwt-secret S         require HS256 JWTs (publishing and POST /chat always; subscribing unless --anonymous)
  --jwt-public-key FILE  require RS256/ES256 JWTs verified with this PEM public key
  --anonymous            with a key: allow subscribing to public topics without a token
  --private-topic P      with --anonymous: topics (or * patterns) that still need a claim (default private/*)
  --cors-origin O        allow browser origin O (repeatable; * for any)
  --max-buffer BYTES     bytes a subscriber may fall behind before it is cut (default 1048576)
  Without a key the hub is open: anyone who can reach it may publish and subscribe.
  To mint a token for a key: docs/cli.md.`

/** The hub's flags, for `parseFlags` (see args.ts). */
export const HUB_FLAGS = {
  redis: { type: 'string', multiple: true },
  history: { type: 'string' },
  'history-age': { type: 'string' },
  'max-topics': { type: 'string' },
  'jwt-secret': { type: 'string' },
  'jwt-public-key': { type: 'string' },
  anonymous: { type: 'boolean' },
  'private-topic': { type: 'string', multiple: true },
  'cors-origin': { type: 'string', multiple: true },
  'max-buffer': { type: 'string' },
} as const satisfies FlagSpecs

/** Check and convert parsed hub flags; throws `UsageError` naming the flag. */
export function hubFlags(values: FlagValues<typeof HUB_FLAGS>): HubFlags {
  const v = values
  const flags: HubFlags = {}
  if (v.redis !== undefined) flags.redis = v.redis.join(',')
  if (v.history !== undefined) flags.history = intFlag('--history', v.history)
  if (v['history-age'] !== undefined) flags.historyAge = intFlag('--history-age', v['history-age'])
  if (v['max-topics'] !== undefined) flags.maxTopics = intFlag('--max-topics', v['max-topics'])
  if (v['max-buffer'] !== undefined) flags.maxBuffer = intFlag('--max-buffer', v['max-buffer'])
  for (const flag of ['jwt-secret', 'jwt-public-key'] as const) {
    // `--jwt-secret "$JWT_SECRET"` with the variable unset: refuse, never run open.
    if (v[flag] === '') throw new UsageError(`--${flag} is empty (an unset variable?).`)
  }
  if (v['jwt-secret'] !== undefined) flags.jwtSecret = v['jwt-secret']
  if (v['jwt-public-key'] !== undefined) flags.jwtPublicKey = v['jwt-public-key']
  if (v.anonymous) flags.anonymous = true
  if (v['private-topic']) flags.privateTopics = v['private-topic']
  if (v['cors-origin']) flags.corsOrigins = v['cors-origin']
  return flags
}

const CLUSTER_URL = /^rediss?\+cluster:\/\//

function redisUrls(spec: string): string[] {
  const urls = spec
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
  if (urls.length === 0) throw new UsageError('--redis needs a URL.')
  return urls
}

/**
 * The Redis store `--redis` names (the hub's and the runs'): one URL, the
 * single-instance store; several (repeated or a comma list), the topics
 * sharded over them.
 */
export async function redisStoreFor(
  spec: string,
  history: { maxLength: number; maxAge?: number },
): Promise<Store> {
  const urls = redisUrls(spec)
  const mod = await import('../hub/redis-store.js')
  return urls.length > 1 || CLUSTER_URL.test(urls[0])
    ? mod.shardedRedisStore({ urls, ...history })
    : mod.redisStore({ url: urls[0], ...history })
}

/** Build the hub the flags describe, and the start-up lines that say what it is. */
export async function createServeHub(flags: HubFlags): Promise<{ hub: Hub; banner: string[] }> {
  const banner: string[] = []
  const history = { maxLength: flags.history ?? 1000, maxAge: flags.historyAge }
  let store: Store
  if (flags.redis) {
    store = await redisStoreFor(flags.redis, history)
    const urls = redisUrls(flags.redis)
    banner.push(
      urls.length === 1 && CLUSTER_URL.test(urls[0])
        ? `hub: topics sharded over the primaries of the Redis Cluster at ${redactUrl(urls[0])}, history ${history.maxLength} per topic`
        : urls.length > 1
          ? `hub: topics sharded over ${urls.length} Redis (${urls.map(redactUrl).join(', ')}), history ${history.maxLength} per topic`
          : `hub: topics on Redis ${redactUrl(urls[0])}, history ${history.maxLength} per topic`,
    )
  } else {
    store = memoryStore({ ...history, maxTopics: flags.maxTopics })
    banner.push(
      `hub: topics in memory (at most ${flags.maxTopics ?? DEFAULT_MAX_TOPICS}), history ${history.maxLength} per topic`,
    )
  }
  let auth: HubAuthOptions | undefined
  if (flags.jwtSecret !== undefined && flags.jwtPublicKey !== undefined) {
    throw new UsageError('use --jwt-secret or --jwt-public-key, not both.')
  }
  if (flags.jwtSecret !== undefined || flags.jwtPublicKey !== undefined) {
    auth = {
      anonymous: flags.anonymous === true,
      privateTopics: flags.privateTopics,
    }
    if (flags.jwtSecret !== undefined) auth.secret = flags.jwtSecret
    else auth.publicKey = await readKeyFile(flags.jwtPublicKey!)
    banner.push(
      `hub: JWT required to publish; to subscribe ${flags.anonymous ? 'only to private topics' : 'always'}`,
    )
  } else {
    if (flags.anonymous) {
      throw new UsageError('--anonymous only makes sense with --jwt-secret or --jwt-public-key.')
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

/** The PEM file of --jwt-public-key, or a message that names the flag and the file. */
async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    const why = unreadable(err)
    throw new UsageError(
      `cannot read the --jwt-public-key file '${file}': ${why}. Give the path of a PEM public key (-----BEGIN PUBLIC KEY-----).`,
    )
  }
}
