/**
 * A store over several Redis primaries (client-side sharding), for a
 * publish rate past one Redis's single thread. See docs/scaling.md.
 *
 * - A topic lives on one shard (FNV-1a of its name modulo the shard count),
 *   in the same keys as the single-instance store (../redis/), so a run (one
 *   topic) shards the same way.
 * - No hub-wide counter: each shard issues its own seqs, a hybrid clock
 *   (scripts.ts) that is unique across shards (seq mod count = the shard)
 *   and close to the other shards' at the same instant.
 * - One id still resumes any set of topics exactly: a node hands live events
 *   over in one seq order across the shards (merge.ts: an event waits until
 *   every shard the node reads has been read through its seq, and a lagging
 *   shard's seq is moved up so it need not wait for that shard's next
 *   publish), and `head()`/`read()` first move every shard's seq up to the
 *   highest, so "everything up to seq N" means the same on every shard.
 * - The epoch names the shards' epochs together (shards.ts): a shard flushed
 *   or restarted without its data resets every subscription (sluice-reset),
 *   and an id of the single-instance store is answered with a reset too.
 * - While a shard is unreachable its topics refuse publishes and reads
 *   (STORE_ERROR, 503), and a node that reads from it holds the other
 *   shards' live events back until it is back (the order needs it): delayed,
 *   never lost.
 *
 * ioredis is an optional peer dependency, loaded on first use.
 */
import { SluiceError } from '../../protocol/errors.js'
import { connect, currentEpoch, loadRedis } from '../redis/connection.js'
import { RedisKeys } from '../redis/keys.js'
import { DEFAULT_HISTORY, type HistoryLimits, type Store } from '../store.js'
import { clusterShards } from './cluster.js'
import { BUMP_COMMAND, BUMP_LUA, SHARD_APPEND_COMMAND, SHARD_APPEND_LUA } from './scripts.js'
import { type Shard, ShardedStore } from './store.js'

export interface ShardedRedisStoreOptions extends HistoryLimits {
  /**
   * One `redis://` URL per shard (1-32; their order is part of the layout:
   * keep it), or one `redis+cluster://host:port`: a shard per primary of
   * that Redis Cluster, its keys under a hash tag that primary serves.
   */
  urls: readonly string[]
  /** Key prefix; default `sluice:`. */
  prefix?: string
  /** How long one blocking XREAD waits (ms). Default 1000. */
  blockMs?: number
  /** Entries per stream per XREAD. Default 1000. */
  batch?: number
}

export const MAX_SHARDS = 32
/** `redis+cluster://host:port`: one shard per primary of that Redis Cluster (./cluster.ts). */
const CLUSTER_URL = /^rediss?\+cluster:\/\//

export async function shardedRedisStore(options: ShardedRedisStoreOptions): Promise<Store> {
  const urls = options.urls
  if (!Array.isArray(urls) || urls.length < 1 || urls.length > MAX_SHARDS) {
    throw new SluiceError('INVALID_ARGUMENT', `\`urls\` must list 1-${MAX_SHARDS} Redis URLs.`, {
      count: Array.isArray(urls) ? urls.length : 0,
    })
  }
  const Redis = await loadRedis()
  const prefix = options.prefix ?? 'sluice:'
  const targets =
    urls.length === 1 && CLUSTER_URL.test(urls[0])
      ? await clusterShards(Redis, urls[0], prefix)
      : urls.map((url) => ({ url, prefix }))
  const shards: Shard[] = []
  try {
    for (const target of targets) {
      const conn = await connect(Redis, target.url)
      const keys = new RedisKeys(target.prefix)
      const shard: Shard = { conn, keys, epoch: '' }
      shards.push(shard)
      conn.cmd.defineCommand(SHARD_APPEND_COMMAND, { lua: SHARD_APPEND_LUA })
      conn.cmd.defineCommand(BUMP_COMMAND, { lua: BUMP_LUA, numberOfKeys: 2 })
      shard.epoch = await currentEpoch(conn.cmd, keys)
    }
  } catch (err) {
    for (const { conn } of shards) {
      conn.cmd.disconnect()
      conn.blocking.disconnect()
    }
    throw err
  }
  const s = new ShardedStore(shards, {
    maxLength: options.maxLength ?? DEFAULT_HISTORY,
    maxAge: options.maxAge ?? 0,
    blockMs: options.blockMs ?? 1000,
    batch: options.batch ?? 1000,
  })
  return {
    kind: s.kind,
    epoch: s.epoch.bind(s),
    head: s.head.bind(s),
    append: s.append.bind(s),
    read: s.read.bind(s),
    watch: s.watch.bind(s),
    info: s.info.bind(s),
    expire: s.expire.bind(s),
    delete: s.delete.bind(s),
    close: s.close.bind(s),
  }
}
