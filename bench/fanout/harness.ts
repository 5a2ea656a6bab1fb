/**
 * The fan-out harness. For each variant and scenario: a fresh server process
 * (servers/<variant>.ts, started with `node --import tsx`), a fresh load
 * process (load.ts), a fresh redis-server for the Redis variant, all on
 * loopback. Server CPU and RSS come from /proc; delivered events and latency
 * from the load process. Every wait is bounded in time, every loop in count.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Delivered, LatencySummary, LoadRequest, Opened, Transport } from './load.js'
import { clockTicks, cpuMs, rssKb, sampleRss } from './proc.js'
import { commandStats, type RedisServer, resetStats, startRedis } from './redis.js'

const HERE = dirname(fileURLToPath(import.meta.url))
export const ROOT = join(HERE, '..', '..')
/**
 * Where `buildServers()` puts the compiled servers, load process and src
 * (under node_modules, so their imports resolve): one directory per run, so
 * two runs at once (several engineers share a machine) never load each
 * other's half-written build, and a run keeps the code it started with.
 */
const BUILD = join(ROOT, 'node_modules', '.cache', 'sluice-bench', `run-${process.pid}`)

/**
 * Compile the servers, the load process and the src they import with tsc
 * (bench/fanout/tsconfig.build.json), so they run on plain node as users
 * run sluice: a loader like tsx adds `__name()` to every function, which
 * costs memory per closure (about 1.5 KB per hub connection) and time.
 */
export function buildServers(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    execFileSync(
      process.execPath,
      [tsc, '-p', join(HERE, 'tsconfig.build.json'), '--outDir', BUILD],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    )
  } catch (err) {
    // Type errors still emit; only a missing output is fatal.
    if (!existsSync(join(BUILD, 'bench', 'fanout', 'load.js'))) throw err
  }
}

/** How a bench process is run: compiled JS on plain node, or the .ts sources through tsx. */
let compiled = false

function benchScript(rel: string): string[] {
  return compiled
    ? [join(BUILD, 'bench', 'fanout', rel.replace(/\.ts$/, '.js'))]
    : ['--import', 'tsx', join(HERE, rel)]
}

export interface Variant {
  name: string
  label: string
  script: string
  transport: Transport
  path: string
  /** Start a redis-server for it and pass REDIS_URL. */
  redis?: boolean
  /** Ours (compared against the rivals) or a rival. */
  ours: boolean
  /** Files that must exist for the variant to run (the code it measures). */
  needs?: string[]
}

export const VARIANTS: Variant[] = [
  {
    name: 'sluice-hub',
    label: 'sluice hub (memory)',
    script: 'sluice-hub.ts',
    transport: 'sse',
    path: '/events?topic=bench',
    ours: true,
    needs: ['src/hub/index.ts'],
  },
  {
    name: 'sluice-hub-redis',
    label: 'sluice hub (Redis)',
    script: 'sluice-hub.ts',
    transport: 'sse',
    path: '/events?topic=bench',
    redis: true,
    ours: true,
    needs: ['src/hub/index.ts', 'src/hub/redis-store.ts'],
  },
  {
    name: 'sluice-hub-h2',
    label: 'sluice hub (HTTP/2)',
    script: 'sluice-hub-h2.ts',
    transport: 'h2',
    path: '/events?topic=bench',
    ours: true,
    needs: ['src/hub/index.ts'],
  },
  {
    name: 'sluice-server',
    label: 'sluice emitter',
    script: 'sluice-server.ts',
    transport: 'sse',
    path: '/events',
    ours: true,
    needs: ['src/server/index.ts'],
  },
  {
    name: 'raw',
    label: 'raw node:http',
    script: 'raw.ts',
    transport: 'sse',
    path: '/events',
    ours: false,
  },
  { name: 'ws', label: 'ws WebSocket', script: 'ws.ts', transport: 'ws', path: '/ws', ours: false },
  {
    name: 'better-sse',
    label: 'better-sse Channel',
    script: 'better-sse.ts',
    transport: 'sse',
    path: '/events',
    ours: false,
  },
  {
    name: 'hono',
    label: 'Hono streamSSE',
    script: 'hono.ts',
    transport: 'sse',
    path: '/events',
    ours: false,
  },
]

export function available(v: Variant): boolean {
  return (v.needs ?? []).every((f) => existsSync(join(ROOT, f)))
}

export type ScenarioName = 'throughput' | 'latency' | 'idle' | 'ramp' | 'large' | 'resume' | 'redis'
export const SCENARIOS: ScenarioName[] = [
  'throughput',
  'latency',
  'idle',
  'ramp',
  'large',
  'resume',
  'redis',
]

/**
 * A latency scenario: `conns` connections, `rate` messages per second for
 * `seconds`, after `warmupSeconds` (default WARMUP_SECONDS) at the same rate
 * that are measured apart and left out of p50/p99 (see LatencyRound.warmup).
 */
export interface LatencySpec {
  conns: number
  rate: number
  seconds: number
  size: number
  warmupSeconds?: number
}

/**
 * Seconds of messages before a latency run is measured. The first two or
 * three messages a fresh server fans out take 2-3x the steady time in every
 * variant (its code is still being compiled: per message, the slowest
 * delivery was 28-39 ms for the first two against 10-12 ms after), and at
 * 20 msg/s for 10 s the p99 is the slowest 2,000 of 200,000 deliveries, so
 * without a warm-up it ranked how fast each server's first two messages
 * compiled. The warm-up's own latency is reported apart.
 */
export const WARMUP_SECONDS = 1

export interface Scale {
  /**
   * Latency rounds (default 1): every latency spec runs this many times per
   * variant, the variants interleaved round-robin with the order rotated each
   * round, and the report gives the median of the rounds and the p99 range.
   */
  rounds?: number
  /** HTTP/2 variants: event streams opened per session (default 100, load.ts's H2_STREAMS_PER_SESSION). */
  h2StreamsPerSession?: number
  throughput: { conns: number; msgs: number; size: number }
  latency: LatencySpec[]
  idle: { conns: number }
  ramp: { conns: number; concurrency: number }
  large: { conns: number; msgs: number; size: number }
  redis: { subs: number[]; msgs: number; size: number }
  /** Events before a drop of every connection, while nobody is connected, and after the reconnect. */
  resume: { conns: number; before: number; during: number; after: number }
  /** Upper bound on any one wait for deliveries, in ms. */
  timeoutMs: number
}

export const FULL: Scale = {
  rounds: 3,
  throughput: { conns: 1000, msgs: 2000, size: 100 },
  latency: [
    { conns: 1000, rate: 20, seconds: 10, size: 100 },
    { conns: 100, rate: 100, seconds: 10, size: 100 },
  ],
  idle: { conns: 10_000 },
  ramp: { conns: 5000, concurrency: 200 },
  large: { conns: 100, msgs: 100, size: 64 * 1024 },
  redis: { subs: [10, 1000], msgs: 500, size: 100 },
  resume: { conns: 1000, before: 100, during: 100, after: 100 },
  timeoutMs: 240_000,
}

export const QUICK: Scale = {
  rounds: 2,
  throughput: { conns: 200, msgs: 300, size: 100 },
  latency: [
    { conns: 200, rate: 20, seconds: 2, size: 100 },
    { conns: 50, rate: 100, seconds: 2, size: 100 },
  ],
  idle: { conns: 1000 },
  ramp: { conns: 500, concurrency: 100 },
  large: { conns: 20, msgs: 20, size: 64 * 1024 },
  redis: { subs: [10, 100], msgs: 100, size: 100 },
  resume: { conns: 100, before: 20, during: 20, after: 20 },
  timeoutMs: 60_000,
}

export interface ThroughputResult {
  conns: number
  msgs: number
  size: number
  delivered: number
  expected: number
  seconds: number
  eventsPerSec: number
  serverCpuMs: number
  cpuUsPerEvent: number
  redisCpuMs?: number
  loadCpuMs: number
  peakRssMb: number
  /** Body bytes on the wire per delivered event, after the handshake (framing included). */
  wireBytesPerEvent: number
  /** Bytes of the response head (HTTP headers, or the 101 of the WebSocket handshake), once per connection. */
  handshakeBytes: number
  /** h2 only: body bytes per event (the SSE text), without the DATA frame headers that wireBytesPerEvent includes. */
  bodyBytesPerEvent?: number
  /** h2 only: sessions the streams were multiplexed over. */
  sessions?: number
  timedOut: boolean
}

/** One latency run: one spec, one variant, fresh processes. */
export interface LatencyRound {
  /** Round number (0-based) and this variant's position in that round's order. */
  round: number
  position: number
  conns: number
  rate: number
  seconds: number
  delivered: number
  expected: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  serverCpuMs: number
  cpuUsPerEvent: number
  /**
   * Bytes on the wire per event after the handshake (h2: on the sessions'
   * sockets, DATA frame headers included). At a low rate every event leaves
   * alone, so this is the uncoalesced framing cost.
   */
  wireBytesPerEvent: number
  timedOut: boolean
  noise?: Noise
  /** The warm-up before the measured run (fresh server, same rate): its messages and latency. */
  warmup?: { messages: number; p99Ms: number; maxMs: number }
}

/**
 * A latency spec over all its rounds: p50/p99/p99.9/max and CPU are the
 * medians of the rounds, delivered/expected the sums, p99MinMs/p99MaxMs the
 * range of the rounds' p99s.
 */
export interface LatencyResult extends Omit<LatencyRound, 'round' | 'position' | 'noise'> {
  p99MinMs: number
  p99MaxMs: number
  /** Rounds during which other processes used less than QUIET_PCT of the machine. */
  quietRounds: number
  /** Median p99 of the quiet rounds (absent when none was quiet). */
  p99QuietMs?: number
  /** Median over the rounds of the warm-up's p99 (the first messages of a fresh server). */
  warmupP99Ms?: number
  rounds: LatencyRound[]
}

/**
 * A round is quiet when other processes used less than this % of the
 * machine meanwhile. On the shared 2-core machine, over 69 rounds of the
 * 1,000 x 20/s scenario, p99 followed other processes' CPU (Spearman 0.74):
 * 16-26 ms in rounds under 10%, a median of 190 ms in rounds over 40%.
 */
export const QUIET_PCT = 10

/**
 * How busy the machine was around one scenario run: load average (1, 5,
 * 15 min) at the start and end, and the CPU that processes other than this
 * run's (server, load, redis-server, harness) used meanwhile, as % of the
 * whole machine (100 = every core busy). A high `othersCpuPct` marks a noisy run.
 */
export interface Noise {
  loadStart: number[]
  loadEnd: number[]
  othersCpuPct: number
  seconds: number
}

/**
 * Connections opened before an idle measurement (5% of it, at most 500):
 * the RSS before is taken after them, so one-time costs of the first
 * connections are not spread over the measured ones. Without it a variant
 * with more code to compile on its first request (the hub: routing, auth,
 * history read) was charged that code per connection.
 */
export function idleWarmup(conns: number): number {
  return Math.min(500, Math.ceil(conns / 20))
}

export interface IdleResult {
  conns: number
  opened: number
  /** Connections opened and left open before the RSS before was taken (see idleWarmup). */
  warmupConns: number
  rssBeforeMb: number
  rssAfterMb: number
  kbPerConn: number
}

export interface RampResult {
  conns: number
  opened: number
  failed: number
  seconds: number
  acceptedPerSec: number
}

export interface RedisResult {
  subs: number
  published: number
  delivered: number
  expected: number
  commands: Record<string, number>
  totalCalls: number
  callsPerPublish: number
}

export interface ResumeResult {
  conns: number
  /** Events published while every connection was down. */
  during: number
  /** Per connection, after the reconnect: events owed (during + after) and events received. */
  owed: number
  received: number
  /** Over all connections and the whole run: events never received, and received twice. */
  lost: number
  duplicates: number
  /** From the first reconnect to the last connection holding everything it is going to get, ms. */
  catchUpMs: number
  timedOut: boolean
}

export interface NoiseRecord extends Noise {
  variant: string
  scenario: string
  round?: number
}

export interface VariantResult {
  variant: string
  label: string
  ours: boolean
  throughput?: ThroughputResult
  latency?: LatencyResult[]
  idle?: IdleResult
  ramp?: RampResult
  large?: ThroughputResult
  redis?: RedisResult[]
  resume?: ResumeResult
  errors: string[]
}

export interface RunOptions {
  variants: Variant[]
  scenarios: ScenarioName[]
  scale: Scale
  log?: (line: string) => void
  /** Compile with tsc and run on plain node (default), or run the .ts through tsx (faster to start; for tests). */
  compile?: boolean
  /**
   * Pin the server (and redis-server) to one CPU and the load process to
   * another with `taskset`, e.g. { server: '0', load: '1' }; default: no pinning.
   * See `defaultPinning()`.
   */
  pin?: Pinning | null
}

export interface Pinning {
  server: string
  load: string
}

/** Server on CPU 0, load on CPU 1, when the machine has 2+ CPUs and taskset exists; else null. */
export function defaultPinning(): Pinning | null {
  if (availableParallelism() < 2) return null
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return null
  }
  return { server: '0', load: '1' }
}

let pinning: Pinning | null = null
/** Scale.h2StreamsPerSession of the current run. */
let h2PerSession: number | undefined

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Round `round`'s order: the list rotated left by `round`, so every variant takes every position. */
export function roundOrder<T>(list: T[], round: number): T[] {
  if (!list.length) return []
  const k = round % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

/** One spec's rounds summarised (medians, sums, the p99 range). */
export function summariseRounds(rounds: LatencyRound[]): LatencyResult {
  const med = (get: (r: LatencyRound) => number) => median(rounds.map(get))
  const p99s = rounds.map((r) => r.p99Ms)
  const quiet = rounds.filter((r) => r.noise !== undefined && r.noise.othersCpuPct < QUIET_PCT)
  return {
    conns: rounds[0].conns,
    rate: rounds[0].rate,
    seconds: rounds[0].seconds,
    delivered: rounds.reduce((a, r) => a + r.delivered, 0),
    expected: rounds.reduce((a, r) => a + r.expected, 0),
    p50Ms: med((r) => r.p50Ms),
    p99Ms: med((r) => r.p99Ms),
    p999Ms: med((r) => r.p999Ms),
    maxMs: med((r) => r.maxMs),
    serverCpuMs: med((r) => r.serverCpuMs),
    cpuUsPerEvent: med((r) => r.cpuUsPerEvent),
    wireBytesPerEvent: med((r) => r.wireBytesPerEvent),
    timedOut: rounds.some((r) => r.timedOut),
    p99MinMs: Math.min(...p99s),
    p99MaxMs: Math.max(...p99s),
    quietRounds: quiet.length,
    ...(quiet.length ? { p99QuietMs: median(quiet.map((r) => r.p99Ms)) } : {}),
    ...(rounds.every((r) => r.warmup)
      ? { warmupP99Ms: median(rounds.map((r) => r.warmup!.p99Ms)) }
      : {}),
    rounds,
  }
}

// ---------------------------------------------------------------------------
// processes

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** `node <args>` with the open-files limit raised (10,000 sockets need it), pinned to `cpu` if given. */
function spawnNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  ipc: boolean,
  cpu?: string,
): ChildProcess {
  return spawn(
    'sh',
    [
      '-c',
      'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"',
      'sh',
      ...(cpu ? ['taskset', '-c', cpu] : []),
      process.execPath,
      ...args,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    },
  )
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

interface ServerHandle {
  /** Control routes (HTTP/1.1). */
  port: number
  /** Where subscribers connect: the h2c port of an HTTP/2 variant, else `port`. */
  streamPort: number
  pid: number
  proc: ChildProcess
  output(): string
}

async function startServer(variant: Variant, env: NodeJS.ProcessEnv): Promise<ServerHandle> {
  // BENCH_SERVER_NODE_OPTIONS: extra node flags for the server, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean)
  const proc = spawnNode(
    [...extra, '--expose-gc', ...benchScript(`servers/${variant.script}`)],
    env,
    false,
    pinning?.server,
  )
  let out = ''
  proc.stderr?.on('data', (d) => (out += d))
  const [port, streamPort] = await new Promise<[number, number]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${variant.name} did not start in 30 s: ${out.slice(-800)}`)),
      30_000,
    )
    proc.stdout?.on('data', (d) => {
      out += d
      const m = /READY (\d+)(?: H2 (\d+))?\n/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve([Number(m[1]), Number(m[2] ?? m[1])])
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${variant.name} exited (${code}) before it was ready: ${out.slice(-800)}`))
    })
  })
  return { port, streamPort, pid: proc.pid!, proc, output: () => out }
}

/** The reply the load process sends to each request type. */
const REPLY = { open: 'opened', expect: 'delivered', drop: 'dropped', close: 'closed' } as const

class Load {
  /** Waiters by reply type: replies to different requests may interleave (a reopen during an expect). */
  private waiting = new Map<string, ((m: any) => void)[]>()
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { type: string }) => this.waiting.get(m.type)?.shift()?.(m))
  }

  static async start(): Promise<Load> {
    const proc = spawnNode(benchScript('load.ts'), {}, true, pinning?.load)
    let err = ''
    proc.stderr?.on('data', (d) => (err += d))
    const load = new Load(proc)
    await Promise.race([
      load.next('ready'),
      new Promise((_, reject) =>
        proc.once('exit', (c) => reject(new Error(`load process exited (${c}): ${err}`))),
      ),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`load process did not start: ${err}`)), 30_000),
      ),
    ])
    return load
  }

  get pid(): number {
    return this.proc.pid!
  }

  private next<T>(type: string): Promise<T> {
    return new Promise((resolve) => {
      const list = this.waiting.get(type) ?? []
      list.push(resolve)
      this.waiting.set(type, list)
    })
  }

  request<T>(msg: Exclude<LoadRequest, { type: 'expect' }>): Promise<T> {
    const reply = this.next<T>(REPLY[msg.type])
    this.proc.send(msg)
    return reply
  }

  /** Arms the counters; resolves `armed` once they are reset, `delivered` when done. */
  expect(msg: Extract<LoadRequest, { type: 'expect' }>): {
    armed: Promise<void>
    delivered: Promise<Delivered>
  } {
    const armed = this.next<void>('armed')
    const delivered = this.next<Delivered>('delivered')
    this.proc.send(msg)
    return { armed, delivered }
  }

  stop(): Promise<void> {
    return stopProcess(this.proc)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

async function control(port: number, path: string, method = 'POST'): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/__bench/${path}`, { method })
  const body = await res.json()
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${JSON.stringify(body)}`)
  return body
}

/** Waits until the server counts `n` subscribers (subscription may register after the head is sent). */
async function waitCount(port: number, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let count = 0
  while (Date.now() < deadline) {
    count = (await control(port, 'count', 'GET')).count
    if (count >= n) return count
    await sleep(50)
  }
  return count
}

interface Ctx {
  server: ServerHandle
  load: Load
  redis?: RedisServer
}

/** Busy and total CPU time of the whole machine so far, ms (the first line of /proc/stat). */
function machineCpuMs(): { busy: number; total: number } {
  const [, ...xs] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
  const n = xs.map(Number)
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = n[3] + n[4]
  const ms = 1000 / clockTicks()
  return { busy: (total - idle) * ms, total: total * ms }
}

/** Our processes' CPU time so far, ms: the harness and the given pids. */
function oursCpuMs(pids: number[]): number {
  const u = process.cpuUsage()
  let ms = (u.user + u.system) / 1000
  for (const pid of pids) {
    try {
      ms += cpuMs(pid)
    } catch {
      // gone
    }
  }
  return ms
}

/** Starts watching the machine; `stop()` returns what else ran meanwhile. */
function watchNoise(pids: () => number[]): { stop(): Noise } {
  const loadStart = loadavg()
  const m0 = machineCpuMs()
  const o0 = oursCpuMs(pids())
  const t0 = performance.now()
  return {
    stop() {
      const m1 = machineCpuMs()
      const o1 = oursCpuMs(pids())
      const total = m1.total - m0.total
      const others = m1.busy - m0.busy - (o1 - o0)
      return {
        loadStart: loadStart.map((x) => Math.round(x * 100) / 100),
        loadEnd: loadavg().map((x) => Math.round(x * 100) / 100),
        othersCpuPct: total > 0 ? Math.max(0, Math.round((others / total) * 1000) / 10) : 0,
        seconds: Math.round(performance.now() - t0) / 1000,
      }
    },
  }
}

/** Where a scenario run reports the machine's noise (variant, scenario, round). */
interface NoiseSink {
  variant: string
  scenario: string
  round?: number
  out: NoiseRecord[]
  /** Set to the run's noise as well (latency rounds keep it per round). */
  last?: Noise
}

async function withProcesses<T>(
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
      if (pinning) pinPid(redis.pid, pinning.server)
    }
    server = await startServer(variant, {
      BENCH_VARIANT: variant.name,
      ...(redis ? { REDIS_URL: redis.url } : {}),
    })
    load = await Load.start()
    const pids = [server.pid, load.pid, ...(redis ? [redis.pid] : [])]
    const watch = sink ? watchNoise(() => pids) : undefined
    const result = await fn({ server, load, redis })
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

/** Pins every thread of a running process to `cpu` (redis-server is started elsewhere). */
function pinPid(pid: number, cpu: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' })
  } catch {
    // Pinning is an aid to repeatability, not a requirement.
  }
}

async function openAll(
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
    streamsPerSession: h2PerSession,
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

// ---------------------------------------------------------------------------
// scenarios

async function throughput(
  variant: Variant,
  spec: { conns: number; msgs: number; size: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<ThroughputResult> {
  return withProcesses(
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

async function latency(
  variant: Variant,
  spec: LatencySpec,
  timeoutMs: number,
  sink: NoiseSink,
  position: number,
): Promise<LatencyRound> {
  return withProcesses(
    variant,
    async (ctx) => {
      await openAll(ctx, variant, spec.conns, 200, timeoutMs)
      const warm = Math.round(spec.rate * (spec.warmupSeconds ?? WARMUP_SECONDS))
      let warmup: LatencyRound['warmup']
      if (warm > 0) {
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
        warmup = {
          messages: warm,
          p99Ms: (got.latency?.p99 ?? 0) / 1000,
          maxMs: (got.latency?.max ?? 0) / 1000,
        }
      }
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
      const serverCpuMs = cpuMs(ctx.server.pid) - cpu0
      const l: LatencySummary = got.latency ?? {
        samples: 0,
        p50: 0,
        p99: 0,
        p999: 0,
        max: 0,
        mean: 0,
      }
      return {
        round: sink.round ?? 0,
        position,
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
    },
    sink,
  )
}

async function idle(
  variant: Variant,
  spec: { conns: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<IdleResult> {
  return withProcesses(
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

async function ramp(
  variant: Variant,
  spec: { conns: number; concurrency: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<RampResult> {
  return withProcesses(
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

async function waitCountAtMost(port: number, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if ((await control(port, 'count', 'GET')).count <= n) return
    await sleep(50)
  }
  throw new Error(`the server still counts subscribers ${timeoutMs} ms after they left`)
}

/**
 * Reconnection: every connection is dropped, events are published while
 * nobody is connected, then every connection comes back sending the last id
 * it saw as Last-Event-ID (what EventSource and sluice's client do). Counts,
 * from the payload numbers, what was lost and what came twice.
 */
async function resume(
  variant: Variant,
  spec: { conns: number; before: number; during: number; after: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<ResumeResult> {
  return withProcesses(
    variant,
    async (ctx) => {
      const open = (resume: boolean) =>
        ctx.load.request<Opened>({
          type: 'open',
          port: ctx.server.streamPort,
          path: variant.path,
          transport: variant.transport,
          n: spec.conns,
          concurrency: 200,
          timeoutMs,
          track: true,
          resume,
          streamsPerSession: h2PerSession,
        })
      const first = await open(false)
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
      const again = await open(true)
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

async function redisCommands(
  variant: Variant,
  spec: { subs: number[]; msgs: number; size: number },
  timeoutMs: number,
  sink?: NoiseSink,
): Promise<RedisResult[]> {
  const out: RedisResult[] = []
  for (const subs of spec.subs) {
    out.push(
      await withProcesses(
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

// ---------------------------------------------------------------------------

export interface BenchResults {
  date: string
  scale: Scale
  results: VariantResult[]
  /** CPU pinning used for this run (null: none). */
  pinning: Pinning | null
  /** Latency rounds: the variant order of each round. */
  latencyOrder: string[][]
  /** The machine's load around every scenario run, in the order they ran. */
  noise: NoiseRecord[]
  /** Wall time of the whole run, seconds. */
  seconds: number
}

/**
 * A scenario run is flagged as noisy when other processes used a quarter of
 * the machine's CPU meanwhile, or when the 1-minute load average at its start
 * was above the CPU count + 2 (the bench's own server and load process
 * account for up to 2 of it, so the load average alone cannot say more).
 */
export function noisy(n: Noise, cores = availableParallelism()): boolean {
  return n.othersCpuPct >= 25 || n.loadStart[0] > cores + 2
}

export async function runBench(opts: RunOptions): Promise<BenchResults> {
  const log = opts.log ?? (() => {})
  const { scale } = opts
  const started = performance.now()
  compiled = opts.compile !== false
  pinning = opts.pin ?? null
  h2PerSession = scale.h2StreamsPerSession
  if (compiled) {
    const t = performance.now()
    buildServers()
    log(`compiled the servers with tsc in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  try {
    return await runAll(opts, log, started)
  } finally {
    if (compiled) rmSync(BUILD, { recursive: true, force: true })
  }
}

async function runAll(
  opts: RunOptions,
  log: (line: string) => void,
  started: number,
): Promise<BenchResults> {
  const { scale } = opts
  if (pinning)
    log(`pinned: servers to CPU ${pinning.server}, load processes to CPU ${pinning.load}`)
  const noise: NoiseRecord[] = []
  const warn = (n: Noise, what: string) => {
    if (noisy(n))
      log(
        `WARNING ${what}: the machine was busy (load average ${n.loadStart[0]} -> ${n.loadEnd[0]}, other processes used ${n.othersCpuPct}% of the CPU); its timings carry noise`,
      )
  }
  const results: VariantResult[] = []
  const runnable: { variant: Variant; r: VariantResult }[] = []
  for (const variant of opts.variants) {
    const r: VariantResult = {
      variant: variant.name,
      label: variant.label,
      ours: variant.ours,
      errors: [],
    }
    results.push(r)
    if (!available(variant)) {
      r.errors.push(`not built yet: needs ${(variant.needs ?? []).join(', ')}`)
      log(`${variant.name}: skipped (${r.errors[0]})`)
      continue
    }
    runnable.push({ variant, r })
  }
  const attempt = async (
    variant: Variant,
    r: VariantResult,
    name: string,
    fn: (sink: NoiseSink) => Promise<void>,
    round?: number,
  ) => {
    if (!opts.scenarios.includes(name as ScenarioName)) return
    const t = performance.now()
    const sink: NoiseSink = { variant: variant.name, scenario: name, round, out: noise }
    const what = `${variant.name} ${name}${round !== undefined ? ` round ${round + 1}` : ''}`
    try {
      await fn(sink)
      log(`${what}: done in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    } catch (err) {
      const msg = `${name}${round !== undefined ? ` (round ${round + 1})` : ''}: ${err instanceof Error ? err.message : String(err)}`
      r.errors.push(msg)
      log(`${variant.name} ${msg}`)
    }
    if (sink.last) warn(sink.last, what)
  }
  for (const { variant, r } of runnable) {
    await attempt(variant, r, 'throughput', async (sink) => {
      r.throughput = await throughput(variant, scale.throughput, scale.timeoutMs, sink)
    })
    await attempt(variant, r, 'idle', async (sink) => {
      r.idle = await idle(variant, scale.idle, scale.timeoutMs, sink)
    })
    await attempt(variant, r, 'ramp', async (sink) => {
      r.ramp = await ramp(variant, scale.ramp, scale.timeoutMs, sink)
    })
    await attempt(variant, r, 'large', async (sink) => {
      r.large = await throughput(variant, scale.large, scale.timeoutMs, sink)
    })
    await attempt(variant, r, 'resume', async (sink) => {
      r.resume = await resume(variant, scale.resume, scale.timeoutMs, sink)
    })
    if (variant.redis) {
      await attempt(variant, r, 'redis', async (sink) => {
        r.redis = await redisCommands(variant, scale.redis, scale.timeoutMs, sink)
      })
    }
  }
  // Latency last, in rounds: every variant once per round, the order rotated
  // each round, so a change in the machine's load hits every variant alike.
  const latencyOrder: string[][] = []
  if (opts.scenarios.includes('latency')) {
    const rounds = Math.max(1, scale.rounds ?? 1)
    const got = new Map<string, LatencyRound[][]>(
      runnable.map(({ variant }) => [variant.name, scale.latency.map(() => [])]),
    )
    for (let round = 0; round < rounds; round++) {
      const order = roundOrder(runnable, round)
      latencyOrder.push(order.map(({ variant }) => variant.name))
      for (const [position, { variant, r }] of order.entries()) {
        await attempt(
          variant,
          r,
          'latency',
          async (sink) => {
            for (const [i, spec] of scale.latency.entries()) {
              sink.scenario = `latency ${spec.conns}x${spec.rate}/s`
              const one = await latency(variant, spec, scale.timeoutMs, sink, position)
              one.noise = sink.last
              if (sink.last) warn(sink.last, `${variant.name} ${sink.scenario} round ${round + 1}`)
              sink.last = undefined
              got.get(variant.name)![i].push(one)
            }
          },
          round,
        )
      }
    }
    for (const { variant, r } of runnable) {
      const specs = got.get(variant.name)!
      if (specs.every((rs) => rs.length)) r.latency = specs.map(summariseRounds)
    }
  }
  return {
    date: new Date().toISOString(),
    scale,
    results,
    pinning,
    latencyOrder,
    noise,
    seconds: Math.round(performance.now() - started) / 1000,
  }
}
