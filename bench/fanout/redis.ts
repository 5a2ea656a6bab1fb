/**
 * A throwaway redis-server for the Redis variant, and the two commands the
 * harness needs (CONFIG RESETSTAT, INFO commandstats) over a bare RESP
 * connection, so the harness does not load a Redis client of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'

export interface RedisServer {
  url: string
  port: number
  pid: number
  stop(): Promise<void>
}

export async function startRedis(port: number): Promise<RedisServer> {
  const proc: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxclients',
      '20000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  proc.stdout?.on('data', (d) => (out += d))
  proc.stderr?.on('data', (d) => (out += d))
  const failed = new Promise<never>((_, reject) => {
    proc.once('error', (err) =>
      reject(
        new Error(
          `redis-server did not start (${err.message}); install it with: apt-get install -y redis-server`,
        ),
      ),
    )
    proc.once('exit', (code) =>
      reject(new Error(`redis-server exited (${code}): ${out.slice(-500)}`)),
    )
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await Promise.race([
      command(port, ['PING']).then(
        () => true,
        () => false,
      ),
      failed,
    ])
    if (ok) break
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer on ${port}: ${out.slice(-500)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  failed.catch(() => {})
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

/** Send one command, return the reply as text (bulk strings and simple replies only). */
export function command(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('redis command timed out'))
    }, 5000)
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('connect', () => {
      let req = `*${args.length}\r\n`
      for (const a of args) req += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
      socket.write(req)
    })
    socket.on('data', (d) => {
      buf += d.toString('utf8')
      const done = (value: string) => {
        clearTimeout(timer)
        socket.destroy()
        resolve(value)
      }
      if (buf[0] === '+' || buf[0] === '-' || buf[0] === ':') {
        if (buf.includes('\r\n')) {
          if (buf[0] === '-') {
            clearTimeout(timer)
            socket.destroy()
            reject(new Error(buf.trim()))
          } else done(buf.slice(1, buf.indexOf('\r\n')))
        }
      } else if (buf[0] === '$') {
        const nl = buf.indexOf('\r\n')
        if (nl === -1) return
        const len = Number(buf.slice(1, nl))
        const body = Buffer.from(buf.slice(nl + 2), 'utf8')
        if (body.length >= len) done(body.subarray(0, len).toString('utf8'))
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

export async function resetStats(port: number): Promise<void> {
  await command(port, ['CONFIG', 'RESETSTAT'])
}
