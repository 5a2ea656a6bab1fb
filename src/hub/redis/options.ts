import { DEFAULT_HISTORY, type HistoryLimits } from '../store.js'

export interface RedisStoreOptions extends HistoryLimits {
  /** `redis://[:password@]host:port[/db]`; default `redis://127.0.0.1:6379`. */
  url?: string
  /** Key prefix; default `sluice:`. Nodes of one hub share it. */
  prefix?: string
  /** How long one blocking XREAD waits (ms) before the loop re-checks the epoch. Default 1000. */
  blockMs?: number
  /** Entries per stream per XREAD. Default 1000. */
  batch?: number
}

/** The options with their defaults filled in (`maxAge` 0: no age limit). */
export type ResolvedRedisOptions = Required<RedisStoreOptions>

export function resolveOptions(options: RedisStoreOptions): ResolvedRedisOptions {
  return {
    url: options.url ?? 'redis://127.0.0.1:6379',
    prefix: options.prefix ?? 'sluice:',
    maxLength: options.maxLength ?? DEFAULT_HISTORY,
    maxAge: options.maxAge ?? 0,
    blockMs: options.blockMs ?? 1000,
    batch: options.batch ?? 1000,
  }
}
