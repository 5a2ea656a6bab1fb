/**
 * The fan-out harness. For each variant and scenario: a fresh server process
 * (servers/<variant>.ts, started with `node --import tsx`), a fresh load
 * process (load.ts), a fresh redis-server for the Redis variant, all on
 * loopback. Server CPU and RSS come from /proc; delivered events and latency
 * from the load process. Every wait is bounded in time, every loop in count.
 *
 * The units: types.ts (results and options), config.ts (variants, scales),
 * processes.ts (the build, servers, the load process), session.ts (one
 * scenario's processes and control routes), noise.ts, scenarios.ts,
 * stats.ts; here, runBench: the order scenarios run in, with one run's state
 * (a Run) passed to each step instead of kept in module variables.
 */
import { rmSync } from 'node:fs'
import { available } from './config.js'
import type { NoiseSink } from './noise.js'
import { BUILD_DIR, type BenchEnv, buildServers } from './processes.js'
import { idle, latency, ramp, redisCommands, resume, throughput } from './scenarios.js'
import { noisy, roundOrder, summariseRounds } from './stats.js'
import type {
  BenchResults,
  LatencyRound,
  Noise,
  NoiseRecord,
  RunOptions,
  ScenarioName,
  Variant,
  VariantResult,
} from './types.js'

export {
  available,
  defaultPinning,
  FULL,
  idleWarmup,
  QUICK,
  QUIET_PCT,
  ROOT,
  SCENARIOS,
  VARIANTS,
  WARMUP_SECONDS,
} from './config.js'
export { buildServers } from './processes.js'
export { median, noisy, roundOrder, summariseRounds } from './stats.js'
export type {
  BenchResults,
  IdleResult,
  LatencyResult,
  LatencyRound,
  LatencySpec,
  Noise,
  NoiseRecord,
  Pinning,
  RampResult,
  RedisResult,
  ResumeResult,
  RunOptions,
  Scale,
  ScenarioName,
  ThroughputResult,
  Variant,
  VariantResult,
} from './types.js'

/** One run's state: its options, how it starts processes, its log and the noise it records. */
interface Run {
  opts: RunOptions
  env: BenchEnv
  log: (line: string) => void
  noise: NoiseRecord[]
}

/** A variant that can run (its files exist) and the result it fills in. */
interface Runnable {
  variant: Variant
  r: VariantResult
}

export async function runBench(opts: RunOptions): Promise<BenchResults> {
  const log = opts.log ?? (() => {})
  const { scale } = opts
  const started = performance.now()
  const env: BenchEnv = {
    compiled: opts.compile !== false,
    build: BUILD_DIR,
    pinning: opts.pin ?? null,
    h2PerSession: scale.h2StreamsPerSession,
  }
  if (env.compiled) {
    const t = performance.now()
    buildServers(env.build)
    log(`compiled the servers with tsc in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  try {
    return await runAll({ opts, env, log, noise: [] }, started)
  } finally {
    if (env.compiled) rmSync(env.build, { recursive: true, force: true })
  }
}

async function runAll(run: Run, started: number): Promise<BenchResults> {
  const { opts, env } = run
  if (env.pinning)
    run.log(
      `pinned: servers to CPU ${env.pinning.server}, load processes to CPU ${env.pinning.load}`,
    )
  const { results, runnable } = prepare(run)
  for (const { variant, r } of runnable) await runScenarios(run, variant, r)
  // Latency last, in rounds: every variant once per round, the order rotated
  // each round, so a change in the machine's load hits every variant alike.
  const latencyOrder = opts.scenarios.includes('latency') ? await runLatency(run, runnable) : []
  return {
    date: new Date().toISOString(),
    scale: opts.scale,
    results,
    pinning: env.pinning,
    latencyOrder,
    noise: run.noise,
    seconds: Math.round(performance.now() - started) / 1000,
  }
}

/** A result per variant; those whose files are missing are reported as not built and skipped. */
function prepare(run: Run): { results: VariantResult[]; runnable: Runnable[] } {
  const results: VariantResult[] = []
  const runnable: Runnable[] = []
  for (const variant of run.opts.variants) {
    const r: VariantResult = {
      variant: variant.name,
      label: variant.label,
      ours: variant.ours,
      errors: [],
    }
    results.push(r)
    if (!available(variant)) {
      r.errors.push(`not built yet: needs ${(variant.needs ?? []).join(', ')}`)
      run.log(`${variant.name}: skipped (${r.errors[0]})`)
      continue
    }
    runnable.push({ variant, r })
  }
  return { results, runnable }
}

function warn(run: Run, n: Noise, what: string): void {
  if (noisy(n))
    run.log(
      `WARNING ${what}: the machine was busy (load average ${n.loadStart[0]} -> ${n.loadEnd[0]}, other processes used ${n.othersCpuPct}% of the CPU); its timings carry noise`,
    )
}

/** Run one scenario of a variant if it was asked for: its error goes to the result, its noise to the log. */
async function attempt(
  run: Run,
  { variant, r }: Runnable,
  name: string,
  fn: (sink: NoiseSink) => Promise<void>,
  round?: number,
): Promise<void> {
  if (!run.opts.scenarios.includes(name as ScenarioName)) return
  const t = performance.now()
  const sink: NoiseSink = { variant: variant.name, scenario: name, round, out: run.noise }
  const what = `${variant.name} ${name}${round !== undefined ? ` round ${round + 1}` : ''}`
  try {
    await fn(sink)
    run.log(`${what}: done in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  } catch (err) {
    const msg = `${name}${round !== undefined ? ` (round ${round + 1})` : ''}: ${err instanceof Error ? err.message : String(err)}`
    r.errors.push(msg)
    run.log(`${variant.name} ${msg}`)
  }
  if (sink.last) warn(run, sink.last, what)
}

/** Every scenario but latency, for one variant, in the order of the report. */
async function runScenarios(run: Run, variant: Variant, r: VariantResult): Promise<void> {
  const { env } = run
  const { scale } = run.opts
  const v = { variant, r }
  await attempt(run, v, 'throughput', async (sink) => {
    r.throughput = await throughput(env, variant, scale.throughput, scale.timeoutMs, sink)
  })
  await attempt(run, v, 'idle', async (sink) => {
    r.idle = await idle(env, variant, scale.idle, scale.timeoutMs, sink)
  })
  await attempt(run, v, 'ramp', async (sink) => {
    r.ramp = await ramp(env, variant, scale.ramp, scale.timeoutMs, sink)
  })
  await attempt(run, v, 'large', async (sink) => {
    r.large = await throughput(env, variant, scale.large, scale.timeoutMs, sink)
  })
  await attempt(run, v, 'resume', async (sink) => {
    r.resume = await resume(env, variant, scale.resume, scale.timeoutMs, sink)
  })
  if (variant.redis) {
    await attempt(run, v, 'redis', async (sink) => {
      r.redis = await redisCommands(env, variant, scale.redis, scale.timeoutMs, sink)
    })
  }
}

/** The latency rounds of every runnable variant; returns each round's order. */
async function runLatency(run: Run, runnable: Runnable[]): Promise<string[][]> {
  const { scale } = run.opts
  const latencyOrder: string[][] = []
  const rounds = Math.max(1, scale.rounds ?? 1)
  const got = new Map<string, LatencyRound[][]>(
    runnable.map(({ variant }) => [variant.name, scale.latency.map(() => [])]),
  )
  for (let round = 0; round < rounds; round++) {
    const order = roundOrder(runnable, round)
    latencyOrder.push(order.map(({ variant }) => variant.name))
    for (const [position, v] of order.entries()) {
      const specs = got.get(v.variant.name)!
      await attempt(
        run,
        v,
        'latency',
        (sink) => latencySpecs(run, v.variant, sink, position, specs),
        round,
      )
    }
  }
  for (const { variant, r } of runnable) {
    const specs = got.get(variant.name)!
    if (specs.every((rs) => rs.length)) r.latency = specs.map(summariseRounds)
  }
  return latencyOrder
}

/** One variant's turn in a latency round: every spec once, each round kept with its noise. */
async function latencySpecs(
  run: Run,
  variant: Variant,
  sink: NoiseSink,
  position: number,
  got: LatencyRound[][],
): Promise<void> {
  const { scale } = run.opts
  for (const [i, spec] of scale.latency.entries()) {
    sink.scenario = `latency ${spec.conns}x${spec.rate}/s`
    const one = await latency(run.env, variant, spec, scale.timeoutMs, sink, position)
    one.noise = sink.last
    if (sink.last) warn(run, sink.last, `${variant.name} ${sink.scenario} round ${sink.round! + 1}`)
    sink.last = undefined
    got[i].push(one)
  }
}
