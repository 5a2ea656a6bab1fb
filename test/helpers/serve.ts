/**
 * `sluice serve` for the tests: the app in this process on a free loopback
 * port, or the real CLI (`node --import tsx src/cli/main.ts`) as a child
 * process that the test can signal and kill.
 */
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import {
  createServeApp,
  listen,
  type ServeApp,
  type ServeOptions,
  shutdown,
} from '../../src/cli/serve.js'
import { freePort, type Started, start, waitForPort } from './external.js'

/** The repository root (the CLI runs from here). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface RunningApp {
  app: ServeApp
  server: Server
  port: number
  url: string
  /** `shutdown()` with the grace the app was started with. */
  close: () => Promise<void>
}

/** `app` listening on 127.0.0.1 and a free port; `close()` shuts it down, cutting streams after `graceMs`. */
export async function listenApp(app: ServeApp, graceMs = 500): Promise<RunningApp> {
  const server = await listen(app, '127.0.0.1', 0)
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    app,
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => shutdown(app, server, graceMs),
  }
}

/** `createServeApp(options)` (logging nowhere unless `options.log` says) on a free loopback port. */
export function serveApp(options: ServeOptions = {}, graceMs = 500): Promise<RunningApp> {
  return listenApp(createServeApp({ log: () => {}, ...options }), graceMs)
}

export interface SluiceProcess {
  proc: Started
  port: number
  url: string
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

/**
 * `sluice <command> --port P ...args` (serve, proxy) as a real child process
 * on a free port; resolves once it listens, or fails with its output.
 */
export async function startSluice(command: string, args: string[] = []): Promise<SluiceProcess> {
  const port = await freePort()
  const proc = start(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', command, '--port', String(port), ...args],
    { cwd: ROOT },
  )
  try {
    await waitForPort(port, 20_000)
  } catch (err) {
    await proc.stop('SIGKILL')
    throw new Error(`sluice ${command} did not start: ${proc.output()}`, { cause: err })
  }
  return { proc, port, url: `http://127.0.0.1:${port}`, stop: (signal) => proc.stop(signal) }
}
