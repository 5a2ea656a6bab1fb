/**
 * The processes of a scenario run: the compiled build, a server variant, the
 * load process (driven over IPC), their ports, pinning and stopping. What
 * used to be module state of the harness is a BenchEnv, passed in.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROOT } from './config.js'
import type { Delivered, LoadRequest } from './load.js'
import type { Pinning, Variant } from './types.js'

const HERE = dirname(fileURLToPath(import.meta.url))

/** How one run starts its processes (fixed by runBench for the whole run). */
export interface BenchEnv {
  /** Compiled JS on plain node (from `build`), or the .ts sources through tsx. */
  compiled: boolean
  /** Where buildServers() put the compiled code. */
  build: string
  /** CPUs for the servers and load processes (taskset), or none. */
  pinning: Pinning | null
  /** Scale.h2StreamsPerSession of the run. */
  h2PerSession: number | undefined
}

/**
 * Where `buildServers()` puts the compiled servers, load process and src
 * (under node_modules, so their imports resolve): one directory per run, so
 * two runs at once (several engineers share a machine) never load each
 * other's half-written build, and a run keeps the code it started with.
 */
export const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'sluice-bench', `run-${process.pid}`)

/**
 * Compile the servers, the load process and the src they import with tsc
 * (bench/fanout/tsconfig.build.json), so they run on plain node as users
 * run sluice: a loader like tsx adds `__name()` to every function, which
 * costs memory per closure (about 1.5 KB per hub connection) and time.
 */
export function buildServers(dir: string = BUILD_DIR): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    execFileSync(
      process.execPath,
      [tsc, '-p', join(HERE, 'tsconfig.build.json'), '--outDir', dir],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    )
  } catch (err) {
    // Type errors still emit; only a missing output is fatal.
    if (!existsSync(join(dir, 'bench', 'fanout', 'load.js'))) throw err
  }
}

/** The node arguments that run a bench script (`servers/x.ts`, `load.ts`) in this run's way. */
function benchScript(env: BenchEnv, rel: string): string[] {
  return env.compiled
    ? [join(env.build, 'bench', 'fanout', rel.replace(/\.ts$/, '.js'))]
    : ['--import', 'tsx', join(HERE, rel)]
}

export function freePort(): Promise<number> {
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

export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

export interface ServerHandle {
  /** Control routes (HTTP/1.1). */
  port: number
  /** Where subscribers connect: the h2c port of an HTTP/2 variant, else `port`. */
  streamPort: number
  pid: number
  proc: ChildProcess
  output(): string
}

export async function startServer(
  run: BenchEnv,
  variant: Variant,
  env: NodeJS.ProcessEnv,
): Promise<ServerHandle> {
  // BENCH_SERVER_NODE_OPTIONS: extra node flags for the server, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean)
  const proc = spawnNode(
    [...extra, '--expose-gc', ...benchScript(run, `servers/${variant.script}`)],
    env,
    false,
    run.pinning?.server,
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

export class Load {
  /** Waiters by reply type: replies to different requests may interleave (a reopen during an expect). */
  private waiting = new Map<string, ((m: any) => void)[]>()
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { type: string }) => this.waiting.get(m.type)?.shift()?.(m))
  }

  static async start(env: BenchEnv): Promise<Load> {
    const proc = spawnNode(benchScript(env, 'load.ts'), {}, true, env.pinning?.load)
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

/** Pins every thread of a running process to `cpu` (redis-server is started elsewhere). */
export function pinPid(pid: number, cpu: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' })
  } catch {
    // Pinning is an aid to repeatability, not a requirement.
  }
}
