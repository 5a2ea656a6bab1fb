/**
 * What the harness runs: the variants (server scripts and the files they
 * measure), the scenarios, the full and quick scales, and the defaults that
 * shape a measurement (warm-up, quiet threshold, CPU pinning).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Pinning, Scale, ScenarioName, Variant } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))

export const ROOT = join(HERE, '..', '..')

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
 * Seconds of messages before a latency run is measured. The first two or
 * three messages a fresh server fans out take 2-3x the steady time in every
 * variant (its code is still being compiled: per message, the slowest
 * delivery was 28-39 ms for the first two against 10-12 ms after), and at
 * 20 msg/s for 10 s the p99 is the slowest 2,000 of 200,000 deliveries, so
 * without a warm-up it ranked how fast each server's first two messages
 * compiled. The warm-up's own latency is reported apart.
 */
export const WARMUP_SECONDS = 1

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

/**
 * A round is quiet when other processes used less than this % of the
 * machine meanwhile. On the shared 2-core machine, over 69 rounds of the
 * 1,000 x 20/s scenario, p99 followed other processes' CPU (Spearman 0.74):
 * 16-26 ms in rounds under 10%, a median of 190 ms in rounds over 40%.
 */
export const QUIET_PCT = 10

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
