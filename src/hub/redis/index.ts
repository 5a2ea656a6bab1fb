/**
 * A store on Redis Streams, so several hub nodes act as one hub.
 *
 * - One stream per topic (`<prefix>topic:<name>`), trimmed with `MAXLEN ~`.
 * - One hub-wide counter: a Lua script INCRBYs `<prefix>seq` and XADDs with the
 *   explicit id `<seq>-0`, atomically, so stream ids are globally ordered
 *   within one Redis and a single event id resumes any set of topics.
 *   Appends made in the same tick go to Redis as one script call (one round
 *   trip for N publishes); each resolves with its own id, in call order
 *   (appender.ts, scripts.ts).
 * - An epoch (`<prefix>epoch`, created once with SET NX): a flushed or
 *   restarted Redis gets a new one, which every node notices.
 * - One blocking XREAD loop per node over all watched topics, on its own
 *   connection; commands use another (connection.ts). The blocking XREAD
 *   only waits; behind it, in one MULTI, a plain XREAD reads every stream,
 *   with the streams' trim marks and the epoch, at one instant: one round
 *   trip. A trim mark past this node's cursor means events it never read
 *   were trimmed (it fell behind by more than the history): the listeners
 *   are told (`onGap`), in seq order, instead of the events going missing
 *   unnoticed. The next round goes out before a batch is delivered, so
 *   reading overlaps fan-out (reader.ts).
 * - A batch is delivered in slices of ~16 KiB of events with a turn of the
 *   event loop between them, so sockets flush to the kernel and readers keep
 *   pace; a batch never lands on a subscriber's buffer all at once
 *   (delivery.ts).
 *
 * ioredis is an optional peer dependency, loaded on first use.
 */
import type { Store } from '../store.js'
import { connect, currentEpoch, loadRedis } from './connection.js'
import { RedisKeys } from './keys.js'
import { type RedisStoreOptions, resolveOptions } from './options.js'
import { RedisStore } from './store.js'

export type { RedisStoreOptions } from './options.js'

export async function redisStore(options: RedisStoreOptions = {}): Promise<Store> {
  const Redis = await loadRedis()
  const resolved = resolveOptions(options)
  const keys = new RedisKeys(resolved.prefix)
  const conn = await connect(Redis, resolved.url)
  const s = new RedisStore(conn, keys, resolved, await currentEpoch(conn.cmd, keys))
  // A plain object of bound methods, as before: a store is extended by spreading
  // it (`{ ...await redisStore(), watch }`), which would drop a class's methods.
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
