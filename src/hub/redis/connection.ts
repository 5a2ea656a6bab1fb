/**
 * The two connections of a node: commands on one, the read loop's blocking
 * XREAD on the other. ioredis is an optional peer dependency, loaded on first
 * use.
 */
import type { Redis as RedisClient } from 'ioredis'
import { SluiceError } from '../../protocol/errors.js'
import { newEpoch } from '../ids.js'
import type { RedisKeys } from './keys.js'
import { APPEND_COMMAND, APPEND_LUA } from './scripts.js'

type RedisCtor = new (url: string, options: Record<string, unknown>) => RedisClient

export interface Connections {
  /** Commands: appends, history reads, CLIENT UNBLOCK. */
  cmd: RedisClient
  /** The read loop's XREADs only. */
  blocking: RedisClient
  /** The blocking connection's CLIENT ID, kept current across reconnects (for CLIENT UNBLOCK). */
  blockingId: { value: number }
}

export async function loadRedis(): Promise<RedisCtor> {
  let mod: any
  try {
    mod = await import('ioredis')
  } catch (cause) {
    throw new SluiceError(
      'MISSING_DEPENDENCY',
      "redisStore() needs the 'ioredis' package, an optional peer dependency of sluice. Install it: npm install ioredis",
      {},
      { cause },
    )
  }
  return (mod.Redis ?? mod.default) as RedisCtor
}

/** A failed Redis call: a 503 for HTTP callers (the store is unavailable, retry later). */
export function storeError(what: string, cause: unknown): SluiceError {
  if (cause instanceof SluiceError) return cause
  const text = String((cause as Error)?.message ?? cause)
  const reason = /enableOfflineQueue|Connection is closed/.test(text)
    ? 'Redis is unreachable (reconnecting in the background); retry shortly'
    : text.replace(/\.$/, '')
  return new SluiceError('STORE_ERROR', `Redis ${what} failed: ${reason}.`, {}, { cause })
}

/** Open both connections (or fail with STORE_ERROR, leaving none open) and define the append script. */
export async function connect(Redis: RedisCtor, url: string): Promise<Connections> {
  // While Redis is unreachable, commands fail at once (STORE_ERROR, a 503 over
  // HTTP) instead of queueing for seconds; reconnection goes on in the
  // background, at most a second apart, and the read loop resumes by itself.
  const connection = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
  }
  const cmd = new Redis(url, connection)
  const blocking = new Redis(url, connection)
  cmd.on('error', () => {}) // surfaced through the rejected commands
  blocking.on('error', () => {})
  try {
    await cmd.connect()
    await blocking.connect()
  } catch (cause) {
    cmd.disconnect()
    blocking.disconnect()
    throw new SluiceError(
      'STORE_ERROR',
      `Cannot connect to Redis at ${url} (${String((cause as Error)?.message ?? cause).replace(/\.$/, '')}). Is redis-server running there?`,
      { url },
      { cause },
    )
  }
  // No fixed key count: the caller passes it (2 + the batch's distinct streams and their trim marks).
  cmd.defineCommand(APPEND_COMMAND, { lua: APPEND_LUA })

  const blockingId = { value: Number(await blocking.call('CLIENT', 'ID')) }
  blocking.on('ready', () => {
    blocking.call('CLIENT', 'ID').then(
      (id) => (blockingId.value = Number(id)),
      () => {},
    )
  })
  return { cmd, blocking, blockingId }
}

/** The epoch, created (SET NX) if Redis has none yet. */
export async function currentEpoch(cmd: RedisClient, keys: RedisKeys): Promise<string> {
  await cmd.set(keys.epoch, newEpoch(), 'NX')
  return (await cmd.get(keys.epoch)) as string
}
