/**
 * The Redis variant's redis-server and the two commands the harness needs
 * (CONFIG RESETSTAT, INFO commandstats). The launcher is the tests' one
 * (test/helpers/redis-server.ts, no vitest in it), so both start Redis alike.
 */
import { type RedisServer, startRedisServer } from '../../test/helpers/redis-server.js'

export {
  command,
  commandStats,
  type RedisServer,
  resetStats,
} from '../../test/helpers/redis-server.js'

/** redis-server on 127.0.0.1:`port`, no persistence, room for 10,000+ subscribers' worth of clients. */
export function startRedis(port: number): Promise<RedisServer> {
  return startRedisServer({ port, args: ['--maxclients', '20000'] })
}
