/**
 * `sluice/hub/redis` (package.json's export points here): the Redis store,
 * whose units live in ./redis/ (see ./redis/index.ts).
 */
export { type RedisStoreOptions, redisStore } from './redis/index.js'
/** Topics sharded over several Redis primaries (docs/scaling.md): ./sharded/. */
export { type ShardedRedisStoreOptions, shardedRedisStore } from './sharded/index.js'
