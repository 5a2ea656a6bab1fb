/**
 * The scenarios, each on fresh processes (session.ts): throughput (and large
 * events), latency at a fixed rate after a warm-up, idle memory per
 * connection, the connection ramp, resume after a drop, and the Redis
 * commands per publish.
 */
import { idleWarmup, WARMUP_SECONDS } from './config.js'
import type { Delivered, LatencySummary, Opened } from './load.js'
import type { NoiseSink } from './noise.js'
import { cpuMs, rssKb, sampleRss } from './proc.js'
import type { BenchEnv } from './processes.js'
import { commandStats, resetStats } from './redis.js'
import {
  type Ctx,
  control,
  nowUs,
  openAll,
  sleep,
  waitCount,
  waitCountAtMost,
  withProcesses,
} from './session.js'
import type {
  IdleResult,
  LatencyRound,
  LatencySpec,
  RampResult,
  RedisResult,
  ResumeResult,
  ThroughputResult,
  Variant,
} from './types.js'

export async function throughput(
  env: BenchEnv,
  variant: Variant,
  spec: { conns: number; msgs: number; size: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<ThroughputResult> {
  return withProcesses(
    env,
    variant,
    async (ctx) => {
      const opened = await openAll(ctx, variant, spec.conns, 200, timeoutMs)
      const { armed, delivered } = ctx.load.expect({
        type: 'expect',
        perConn: spec.msgs,
        latency: false,
        timeoutMs,
      })
      await armed
      const rss = sampleRss(ctx.server.pid)
      const cpu0 = cpuMs(ctx.server.pid)
      const redis0 = ctx.redis ? cpuMs(ctx.redis.pid) : 0
      const load0 = cpuMs(ctx.load.pid)
      const t0 = nowUs()
      const published = control(ctx.server.port, `burst?count=${spec.msgs}&size=${spec.size}`)
      const got = await delivered
      await published
      const serverCpuMs = cpuMs(ctx.server.pid) - cpu0
      const redisCpuMs = ctx.redis ? cpuMs(ctx.redis.pid) - redis0 : undefined
      const loadCpuMs = cpuMs(ctx.load.pid) - load0
      const peak = rss.stop()
      const seconds = Math.max(1e-6, ((got.lastUs || nowUs()) - t0) / 1e6)
      return {
        conns: spec.conns,
        msgs: spec.msgs,
        size: spec.size,
        delivered: got.delivered,
        expected: got.expected,
        seconds,
        eventsPerSec: got.delivered / seconds,
        serverCpuMs,
        cpuUsPerEvent: got.delivered ? (serverCpuMs * 1000) / got.delivered : 0,
        redisCpuMs,
        loadCpuMs,
        peakRssMb: peak / 1024,
        // h2: what the sessions' sockets received (DATA frame headers included); the body alone besides.
        wireBytesPerEvent: got.delivered ? (got.socketBytes ?? got.bytes) / got.delivered : 0,
        handshakeBytes: opened.headBytes,
        ...(got.socketBytes !== undefined
          ? {
              bodyBytesPerEvent: got.delivered ? got.bytes / got.delivered : 0,
              sessions: opened.sessions,
            }
          : {}),
        timedOut: got.timedOut,
      }
    },
    sink,
  )
}

/** The warm-up before a measured latency run: the same rate, its latency reported apart (see WARMUP_SECONDS). */
async function warmUp(
  ctx: Ctx,
  spec: LatencySpec,
  timeoutMs: number,
): Promise<LatencyRound['warmup']> {
  const warm = Math.round(spec.rate * (spec.warmupSeconds ?? WARMUP_SECONDS))
  if (!(warm > 0)) return undefined
  const w = ctx.load.expect({
    type: 'expect',
    perConn: warm,
    latency: true,
    timeoutMs: Math.min(timeoutMs, (warm / spec.rate) * 1000 + 60_000),
  })
  await w.armed
  await control(ctx.server.port, `rate?count=${warm}&rate=${spec.rate}&size=${spec.size}`)
  const got = await w.delivered
  if (got.timedOut || got.delivered !== got.expected) {
    throw new Error(
      `warm-up: ${got.delivered} of ${got.expected} events arrived${got.timedOut ? ' (timed out)' : ''}`,
    )
  }
  return {
    messages: warm,
    p99Ms: (got.latency?.p99 ?? 0) / 1000,
    maxMs: (got.latency?.max ?? 0) / 1000,
  }
}

/** The measured latency run: what arrived, and the server's CPU meanwhile. */
async function measureLatency(
  ctx: Ctx,
  spec: LatencySpec,
  timeoutMs: number,
): Promise<{ got: Delivered; serverCpuMs: number }> {
  const count = Math.round(spec.rate * spec.seconds)
  const { armed, delivered } = ctx.load.expect({
    type: 'expect',
    perConn: count,
    latency: true,
    timeoutMs: Math.min(timeoutMs, spec.seconds * 1000 + 60_000),
  })
  await armed
  const cpu0 = cpuMs(ctx.server.pid)
  const published = control(
    ctx.server.port,
    `rate?count=${count}&rate=${spec.rate}&size=${spec.size}`,
  )
  const got = await delivered
  await published
  return { got, serverCpuMs: cpuMs(ctx.server.pid) - cpu0 }
}

/** One latency round from what the load process measured. */
function latencyRound(
  spec: LatencySpec,
  { got, serverCpuMs }: { got: Delivered; serverCpuMs: number },
  at: { round: number; position: number },
  warmup: LatencyRound['warmup'],
): LatencyRound {
  const l: LatencySummary = got.latency ?? {
    samples: 0,
    p50: 0,
    p99: 0,
    p999: 0,
    max: 0,
    mean: 0,
  }
  return {
    round: at.round,
    position: at.position,
    conns: spec.conns,
    rate: spec.rate,
    seconds: spec.seconds,
    delivered: got.delivered,
    expected: got.expected,
    p50Ms: l.p50 / 1000,
    p99Ms: l.p99 / 1000,
    p999Ms: l.p999 / 1000,
    maxMs: l.max / 1000,
    serverCpuMs,
    cpuUsPerEvent: got.delivered ? (serverCpuMs * 1000) / got.delivered : 0,
    wireBytesPerEvent: got.delivered ? (got.socketBytes ?? got.bytes) / got.delivered : 0,
    timedOut: got.timedOut,
    ...(warmup ? { warmup } : {}),
  }
}

export async function latency(
  env: BenchEnv,
  variant: Variant,
  spec: LatencySpec,
  timeoutMs: number,
  sink: NoiseSink,
  position: number,
): Promise<LatencyRound> {
  return withProcesses(
    env,
    variant,
    async (ctx) => {
      await openAll(ctx, variant, spec.conns, 200, timeoutMs)
      const warmup = await warmUp(ctx, spec, timeoutMs)
      const measured = await measureLatency(ctx, spec, timeoutMs)
      return latencyRound(spec, measured, { round: sink.round ?? 0, position }, warmup)
    },
    sink,
  )
}

export async function idle(
  env: BenchEnv,
  variant: Variant,
  spec: { conns: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<IdleResult> {
  return withProcesses(
    env,
    variant,
    async (ctx) => {
      // What the first connections cost once (the handler's code compiled,
      // pools and tables grown) is not a cost per connection: it is paid
      // before the measurement, by the warm-up connections.
      const warm = idleWarmup(spec.conns)
      await openAll(ctx, variant, warm, 200, timeoutMs)
      await sleep(300)
      await control(ctx.server.port, 'gc')
      await sleep(300)
      const before = rssKb(ctx.server.pid)
      const opened = await openAll(ctx, variant, spec.conns, 200, timeoutMs, warm)
      await sleep(1000)
      await control(ctx.server.port, 'gc')
      await sleep(300)
      const after = rssKb(ctx.server.pid)
      const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR
      if (dir) await control(ctx.server.port, `heap?dir=${encodeURIComponent(dir)}`)
      return {
        conns: spec.conns,
        opened: opened.ok - warm,
        warmupConns: warm,
        rssBeforeMb: before / 1024,
        rssAfterMb: after / 1024,
        kbPerConn: (after - before) / spec.conns,
      }
    },
    sink,
  )
}

export async function ramp(
  env: BenchEnv,
  variant: Variant,
  spec: { conns: number; concurrency: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<RampResult> {
  return withProcesses(
    env,
    variant,
    async (ctx) => {
      const opened = await openAll(ctx, variant, spec.conns, spec.concurrency, timeoutMs)
      const seconds = opened.ms / 1000
      return {
        conns: spec.conns,
        opened: opened.ok,
        failed: opened.failed,
        seconds,
        acceptedPerSec: opened.ok / seconds,
      }
    },
    sink,
  )
}

type ResumeSpec = { conns: number; before: number; during: number; after: number }

/** Open every connection of the resume scenario, tracking ids (and sending Last-Event-ID on `resume`). */
async function openTracked(
  ctx: Ctx,
  variant: Variant,
  spec: ResumeSpec,
  timeoutMs: number,
  resume: boolean,
): Promise<Opened> {
  return ctx.load.request<Opened>({
    type: 'open',
    port: ctx.server.streamPort,
    path: variant.path,
    transport: variant.transport,
    n: spec.conns,
    concurrency: 200,
    timeoutMs,
    track: true,
    resume,
    streamsPerSession: ctx.env.h2PerSession,
  })
}

/** Connect, receive `before` events, drop every connection, publish `during` while nobody is connected. */
async function connectAndDrop(
  ctx: Ctx,
  variant: Variant,
  spec: ResumeSpec,
  timeoutMs: number,
): Promise<void> {
  const first = await openTracked(ctx, variant, spec, timeoutMs, false)
  if (first.ok < spec.conns)
    throw new Error(`opened ${first.ok} of ${spec.conns}: ${first.errors.join('; ')}`)
  await waitCount(ctx.server.port, spec.conns, 30_000)
  const phase1 = ctx.load.expect({
    type: 'expect',
    perConn: spec.before,
    latency: false,
    timeoutMs,
  })
  await phase1.armed
  await control(ctx.server.port, `burst?count=${spec.before}&size=100&from=0`)
  await phase1.delivered
  await ctx.load.request({ type: 'drop' })
  await waitCountAtMost(ctx.server.port, 0, 30_000)
  await control(ctx.server.port, `burst?count=${spec.during}&size=100&from=${spec.before}`)
}

/**
 * Reconnection: every connection is dropped, events are published while
 * nobody is connected, then every connection comes back sending the last id
 * it saw as Last-Event-ID (what EventSource and sluice's client do). Counts,
 * from the payload numbers, what was lost and what came twice.
 */
export async function resume(
  env: BenchEnv,
  variant: Variant,
  spec: ResumeSpec,
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<ResumeResult> {
  return withProcesses(
    env,
    variant,
    async (ctx) => {
      await connectAndDrop(ctx, variant, spec, timeoutMs)
      const last = spec.before + spec.during + spec.after - 1
      // Armed before the reconnect: the replay arrives as soon as a connection is back.
      const phase2 = ctx.load.expect({
        type: 'expect',
        perConn: spec.during + spec.after,
        latency: false,
        timeoutMs,
        untilI: last,
        conns: spec.conns,
      })
      await phase2.armed
      const t0 = performance.now()
      const again = await openTracked(ctx, variant, spec, timeoutMs, true)
      if (again.ok < spec.conns)
        throw new Error(`reopened ${again.ok} of ${spec.conns}: ${again.errors.join('; ')}`)
      await waitCount(ctx.server.port, spec.conns, 30_000)
      await control(
        ctx.server.port,
        `burst?count=${spec.after}&size=100&from=${spec.before + spec.during}`,
      )
      const got = await phase2.delivered
      return {
        conns: spec.conns,
        during: spec.during,
        owed: spec.during + spec.after,
        received: got.delivered / spec.conns,
        lost: got.lost ?? 0,
        duplicates: got.duplicates ?? 0,
        catchUpMs: performance.now() - t0,
        timedOut: got.timedOut,
      }
    },
    sink,
  )
}

export async function redisCommands(
  env: BenchEnv,
  variant: Variant,
  spec: { subs: number[]; msgs: number; size: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<RedisResult[]> {
  const out: RedisResult[] = []
  for (const subs of spec.subs) {
    out.push(
      await withProcesses(
        env,
        variant,
        async (ctx) => {
          if (!ctx.redis) throw new Error(`${variant.name} has no Redis`)
          await openAll(ctx, variant, subs, 200, timeoutMs)
          const { armed, delivered } = ctx.load.expect({
            type: 'expect',
            perConn: spec.msgs,
            latency: false,
            timeoutMs,
          })
          await armed
          await resetStats(ctx.redis.port)
          const published = control(ctx.server.port, `burst?count=${spec.msgs}&size=${spec.size}`)
          const got = await delivered
          await published
          await sleep(200)
          const stats = await commandStats(ctx.redis.port)
          // The harness's own INFO / CONFIG are not the hub's.
          delete stats.info
          delete stats['config|resetstat']
          delete stats.config
          const totalCalls = Object.values(stats).reduce((a, b) => a + b, 0)
          return {
            subs,
            published: spec.msgs,
            delivered: got.delivered,
            expected: got.expected,
            commands: stats,
            totalCalls,
            callsPerPublish: totalCalls / spec.msgs,
          }
        },
        sink,
      ),
    )
  }
  return out
}
