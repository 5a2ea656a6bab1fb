/**
 * The fan-out harness's vocabulary: variants, scenarios and their scale, the
 * results of each scenario, the machine's noise, a run's options and results.
 * Types only.
 */
import type { Transport } from './load.js'
import type { machine } from './proc.js'

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

export type ScenarioName = 'throughput' | 'latency' | 'idle' | 'ramp' | 'large' | 'resume' | 'redis'

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

/** What main.ts reports and writes: a run's results, the machine and the command. */
export type Report = BenchResults & { machine: ReturnType<typeof machine>; command: string }
