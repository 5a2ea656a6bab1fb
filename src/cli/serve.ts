/**
 * `sluice serve`, the command: its help, flags (serve-flags.ts) and main():
 * the stores, signals, listen and the banner. The app it serves is
 * serve-app.ts (hub + runs + chat + static), routed by router.ts.
 */
import type { Server } from 'node:http'
import { memoryStore } from '../hub/memory-store.js'
import { EXIT_STATUS } from './args.js'
import { HUB_HELP, createServeHub } from './hub-options.js'
import { createServeApp, listen, shutdown } from './serve-app.js'
import { parseServeFlags } from './serve-flags.js'

export {
  CHAT_TOPIC,
  DEFAULT_ABANDON_AFTER,
  defaultRunMemory,
  createServeApp,
  listen,
  shutdown,
  type Route,
  type RouteContext,
  type RouteHandler,
  type ServeApp,
  type ServeOptions,
} from './serve-app.js'
export { matchPath } from './router.js'

export const HELP = `Usage: sluice serve [options]

The hub, resumable chat answers and the demo page on one HTTP server.
Routes: GET / (the demo page), POST /chat (SSE; ?format=envelope, ?mode=chars&delay=100,
?stopOnDisconnect=MS|true|false), GET /healthz, GET /metrics (Prometheus)

Options:
  --host H               address to listen on (default 127.0.0.1)
  --port P               port (default 8080; 0 picks a free one)
  -h, --help             this help

Runs (each POST /chat answer is a run: GET /chat/:runId resumes it, DELETE stops it):
  --run-ttl MS           how long a finished answer stays resumable (default 600000)
  --run-lease MS         a run whose node stops renewing this lease is reported lost (default 5000)
  --run-max-events N     events kept per run for resuming (default 10000; on --redis too)
  --run-memory BYTES     what this node's runs may hold: logs and buffers (default 134217728,
                         or a quarter of the V8 heap limit when less);
                         then finished runs are dropped oldest first, new ones refused (503)
  --run-abandon MS       stop a run nobody follows for this long (default 30000; 0: at once)

${HUB_HELP}

${EXIT_STATUS} SIGTERM: a clean stop (0).`

export async function main(argv: string[]): Promise<number | undefined> {
  const flags = parseServeFlags(argv)
  if (flags.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const { host, port, hub: hubFlags, runs: runFlags, runMaxEvents } = flags
  const { hub, banner } = await createServeHub(hubFlags)
  // Runs get their own store (same backend), bounded per run by --run-max-events, not --history.
  const runStore = hubFlags.redis
    ? await (await import('../hub/redis-store.js')).redisStore({
        url: hubFlags.redis,
        maxLength: runMaxEvents,
      })
    : memoryStore({ maxLength: runMaxEvents })
  const app = createServeApp({
    hub,
    runs: { ...runFlags, maxEvents: runMaxEvents, store: runStore },
  })
  let server: Server | undefined
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stdout.write(`sluice serve: ${signal}, shutting down\n`)
    const hard = setTimeout(() => process.exit(1), 5000)
    hard.unref()
    // Ctrl-C is "interrupted" (130), after the same clean shutdown; SIGTERM is a clean stop (0).
    ;(server ? shutdown(app, server) : app.close()).then(
      () => process.exit(signal === 'SIGINT' ? 130 : 0),
      () => process.exit(1),
    )
  }
  // Before listening: the port accepts connections (a supervisor or test sees it open) a
  // moment before listen() resolves, and a signal in that moment must not kill the process.
  const onInt = () => stop('SIGINT')
  const onTerm = () => stop('SIGTERM')
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  try {
    server = await listen(app, host, port)
  } catch (err) {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
    await app.close()
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(
        `sluice serve: cannot listen on ${host}:${port} (${code}); pick another with --port or --host.\n`,
      )
      return 1
    }
    throw err
  }
  const addr = server.address()
  const actualPort = typeof addr === 'object' && addr ? addr.port : port
  process.stdout.write(`sluice serve: listening on http://${host}:${actualPort}\n`)
  for (const line of banner) process.stdout.write(`sluice serve: ${line}\n`)
  if (!hubFlags.jwtSecret && !hubFlags.jwtPublicKey && !/^(127\.|::1$|localhost$)/.test(host)) {
    process.stdout.write(
      `sluice serve: WARNING: the open hub listens on ${host}, not loopback; pass --jwt-secret\n`,
    )
  }
  return undefined
}
