/** A real redis-server on a loopback port (a free one unless `port` is given), no persistence. */
import { freePort, requireBinary, type Started, start, waitForPort } from './external.js'

export interface RedisServer {
  url: string
  port: number
  proc: Started
  stop(): Promise<void>
}

/**
 * Start redis-server and resolve once it accepts connections. Pass `port` to
 * bring one back on the port of a Redis the test killed (a restart without
 * persistence: an empty Redis at the same address).
 */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const bin = requireBinary('redis-server')
  const port = opts.port ?? (await freePort())
  const proc = start(bin, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ])
  await waitForPort(port)
  return { url: `redis://127.0.0.1:${port}`, port, proc, stop: () => proc.stop() }
}
