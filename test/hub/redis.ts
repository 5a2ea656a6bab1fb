/** A real redis-server on a free loopback port, no persistence. */
import { freePort, requireBinary, start, waitForPort, type Started } from '../helpers/external.js'

export interface RedisServer {
  url: string
  port: number
  proc: Started
  stop(): Promise<void>
}

export async function startRedis(): Promise<RedisServer> {
  const bin = requireBinary('redis-server')
  const port = await freePort()
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
