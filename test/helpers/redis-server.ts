/**
 * A throwaway redis-server on a loopback port, and a few commands over a bare
 * RESP connection (PING, CONFIG RESETSTAT, INFO commandstats). One launcher
 * for the tests (test/helpers/redis.ts wraps it) and the fan-out benchmark
 * (bench/fanout/redis.ts), so it imports nothing from vitest and loads no
 * Redis client.
 */
import { connect } from 'node:net'
import { start, type Started } from './process.js'

export const REDIS_INSTALL = 'apt-get install -y redis-server'

/** The redis-server process: output captured; `stop` sends SIGTERM (or `signal`), then SIGKILL after 5 s. */
export type RedisProcess = Started

export interface RedisServer {
  url: string
  port: number
  pid: number
  proc: RedisProcess
  stop(): Promise<void>
}

export interface RedisServerOptions {
  port: number
  /** Path of the binary; default `redis-server` on PATH. */
  bin?: string
  /** More arguments, e.g. `['--maxclients', '20000']`. */
  args?: string[]
  /** How long to wait for the first PONG (ms). Default 10 000. */
  timeoutMs?: number
}

/**
 * Start redis-server on 127.0.0.1:`port` without persistence and resolve once
 * it answers PING. Starting it on the port of one that was killed brings back
 * an empty Redis at the same address.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const { port } = options
  const handle: RedisProcess = start(options.bin ?? 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    ...(options.args ?? []),
  ])
  const { proc } = handle
  const failed = new Promise<never>((_, reject) => {
    proc.once('error', (err) =>
      reject(
        new Error(`redis-server did not start (${err.message}); install it with: ${REDIS_INSTALL}`),
      ),
    )
    proc.once('exit', (code, signal) =>
      reject(new Error(`redis-server exited (${code ?? signal}): ${handle.output().slice(-500)}`)),
    )
  })
  failed.catch(() => {})
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  try {
    for (;;) {
      const ok = await Promise.race([
        command(port, ['PING']).then(
          (reply) => reply === 'PONG',
          () => false,
        ),
        failed,
      ])
      if (ok) break
      if (Date.now() > deadline)
        throw new Error(
          `redis-server did not answer on port ${port}: ${handle.output().slice(-500)}`,
        )
      await new Promise((r) => setTimeout(r, 20))
    }
  } catch (err) {
    await handle.stop('SIGKILL')
    throw err
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    proc: handle,
    stop: () => handle.stop(),
  }
}

/** Send one command, return the reply as text (simple, integer and bulk replies only). */
export function command(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('redis command timed out'))
    }, 5000)
    const finish = (err: Error | null, value = '') => {
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(value)
    }
    socket.on('error', (err) => finish(err))
    socket.on('connect', () => {
      let req = `*${args.length}\r\n`
      for (const a of args) req += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
      socket.write(req)
    })
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const nl = buf.indexOf('\r\n')
      if (nl === -1) return
      const head = buf.subarray(1, nl).toString('utf8')
      switch (String.fromCharCode(buf[0])) {
        case '+':
        case ':':
          return finish(null, head)
        case '-':
          return finish(new Error(head))
        case '$': {
          const len = Number(head)
          if (len < 0) return finish(null, '')
          if (buf.length >= nl + 2 + len)
            finish(null, buf.subarray(nl + 2, nl + 2 + len).toString('utf8'))
          return
        }
        default:
          return finish(new Error(`unexpected reply to ${args[0]}: ${head}`))
      }
    })
  })
}

/** `INFO commandstats` as { command: calls }. */
export async function commandStats(port: number): Promise<Record<string, number>> {
  const text = await command(port, ['INFO', 'commandstats'])
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2])
  return out
}

/** `CONFIG RESETSTAT`: zero the command counters. */
export async function resetStats(port: number): Promise<void> {
  await command(port, ['CONFIG', 'RESETSTAT'])
}
