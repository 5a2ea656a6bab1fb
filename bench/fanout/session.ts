/**
 * What every scenario does with its processes: start them fresh and stop
 * them (noting the machine's noise), drive the server's control routes, open
 * connections and wait until the server counts them.
 */
import type { Opened } from './load.js'
import { type NoiseSink, watchNoise } from './noise.js'
import {
  type BenchEnv,
  freePort,
  Load,
  pinPid,
  type ServerHandle,
  startServer,
  stopProcess,
} from './processes.js'
import { type RedisServer, startRedis } from './redis.js'
import type { Variant } from './types.js'

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

export async function control(port: number, path: string, method = 'POST'): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/__bench/${path}`, { method })
  const body = await res.json()
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** Waits until the server counts `n` subscribers (subscription may register after the head is sent). */
export async function waitCount(port: number, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let count = 0
  while (Date.now() < deadline) {
    count = (await control(port, 'count', 'GET')).count
    if (count >= n) return count
    await sleep(50)
  }
  return count
}

export async function waitCountAtMost(port: number, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if ((await control(port, 'count', 'GET')).count <= n) return
    await sleep(50)
  }
  throw new Error(`the server still counts subscribers ${timeoutMs} ms after they left`)
}

/** One scenario run's processes, and the run's BenchEnv they were started with. */
export interface Ctx {
  env: BenchEnv
  server: ServerHandle
  load: Load
  redis?: RedisServer
}

/** Fresh processes for one scenario run (redis-server if the variant needs it, the server, the load), stopped after `fn`. */
export async function withProcesses<T>(
  env: BenchEnv,
  variant: Variant,
  fn: (ctx: Ctx) => Promise<T>,
  sink?: NoiseSink,
): Promise<T> {
  let redis: RedisServer | undefined
  let server: ServerHandle | undefined
  let load: Load | undefined
  try {
    if (variant.redis) {
      redis = await startRedis(await freePort())
      if (env.pinning) pinPid(redis.pid, env.pinning.server)
    }
    server = await startServer(env, variant, {
      BENCH_VARIANT: variant.name,
      ...(redis ? { REDIS_URL: redis.url } : {}),
    })
    load = await Load.start(env)
    const pids = [server.pid, load.pid, ...(redis ? [redis.pid] : [])]
    const watch = sink ? watchNoise(() => pids) : undefined
    const result = await fn({ env, server, load, redis })
    if (sink && watch) {
      const noise = watch.stop()
      sink.last = noise
      sink.out.push({
        variant: sink.variant,
        scenario: sink.scenario,
        ...(sink.round !== undefined ? { round: sink.round } : {}),
        ...noise,
      })
    }
    return result
  } finally {
    await load?.stop()
    if (server) await stopProcess(server.proc)
    await redis?.stop()
  }
}

export async function openAll(
  ctx: Ctx,
  variant: Variant,
  n: number,
  concurrency: number,
  timeoutMs: number,
  /** Connections this load process already holds open (counted by the server too). */
  already = 0,
): Promise<Opened> {
  const opened = await ctx.load.request<Opened>({
    type: 'open',
    port: ctx.server.streamPort,
    path: variant.path,
    transport: variant.transport,
    n,
    concurrency,
    timeoutMs,
    streamsPerSession: ctx.env.h2PerSession,
  })
  if (opened.ok < already + n) {
    throw new Error(
      `${variant.name}: opened ${opened.ok - already} of ${n} connections: ${opened.errors.join('; ')}`,
    )
  }
  const counted = await waitCount(ctx.server.port, already + n, 30_000)
  if (counted < already + n)
    throw new Error(
      `${variant.name}: server counts ${counted} of ${already + n} subscribers after 30 s`,
    )
  return opened
}
