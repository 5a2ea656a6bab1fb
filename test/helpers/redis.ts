/** A real redis-server on a loopback port (a free one unless `port` is given), no persistence. */
import { freePort, requireBinary } from './external.js'
import { type RedisServer, startRedisServer } from './redis-server.js'

export type { RedisServer }

/**
 * Start redis-server and resolve once it answers PING. Pass `port` to bring
 * one back on the port of a Redis the test killed (a restart without
 * persistence: an empty Redis at the same address). A missing binary fails
 * with the command that installs it (test/helpers/external.ts).
 */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const bin = requireBinary('redis-server')
  const port = opts.port ?? (await freePort())
  return startRedisServer({ port, bin })
}
