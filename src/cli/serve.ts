/**
 * `sluice serve`, the command: its help, flags (serve-flags.ts) and main():
 * the stores, signals, listen and the banner. The app it serves is
 * serve-app.ts (hub + runs + chat + static), routed by router.ts.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import { memoryStore } from '../hub/memory-store.js'
import { EXIT_STATUS, UsageError, unreadable } from './args.js'
import { HUB_HELP, createServeHub, redisStoreFor } from './hub-options.js'
import { createServeApp, listen, listenTls, type ServeApp, shutdown } from './serve-app.js'
import { parseServeFlags, type ServeFlags } from './serve-flags.js'
import type { TlsOptions } from './secure.js'

export {
  CHAT_TOPIC,
  DEFAULT_ABANDON_AFTER,
  defaultRunMemory,
  createServeApp,
  listen,
  listenTls,
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
  --tls-cert FILE        serve HTTPS with HTTP/2 (and HTTP/1.1): the certificate chain, PEM
  --tls-key FILE         its private key, PEM (both or neither; see docs/cli.md for a local one)
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
  const tls = flags.tls && readTls(flags.tls)
  const { hub, banner } = await createServeHub(hubFlags)
  // Runs get their own store (same backend), bounded per run by --run-max-events, not --history.
  const runStore = hubFlags.redis
    ? await redisStoreFor(hubFlags.redis, { maxLength: runMaxEvents })
    : memoryStore({ maxLength: runMaxEvents })
  const app = createServeApp({
    hub,
    runs: { ...runFlags, maxEvents: runMaxEvents, store: runStore },
  })
  let server: Server | Http2SecureServer | undefined
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
    server = await listenOn(app, host, port, tls)
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
    if (tls && typeof code === 'string' && code.startsWith('ERR_OSSL')) {
      process.stderr.write(
        `sluice serve: --tls-cert/--tls-key: not a usable PEM certificate and key (${(err as Error).message}).\n`,
      )
      return 1
    }
    throw err
  }
  const addr = server.address()
  const actualPort = typeof addr === 'object' && addr ? addr.port : port
  const scheme = tls ? 'https' : 'http'
  process.stdout.write(
    `sluice serve: listening on ${scheme}://${host}:${actualPort}${tls ? ' (HTTP/2 and HTTP/1.1)' : ''}\n`,
  )
  for (const line of banner) process.stdout.write(`sluice serve: ${line}\n`)
  if (!hubFlags.jwtSecret && !hubFlags.jwtPublicKey && !/^(127\.|::1$|localhost$)/.test(host)) {
    process.stdout.write(
      `sluice serve: WARNING: the open hub listens on ${host}, not loopback; pass --jwt-secret\n`,
    )
  }
  return undefined
}

function listenOn(
  app: ServeApp,
  host: string,
  port: number,
  tls: TlsOptions | undefined,
): Promise<Server | Http2SecureServer> {
  return tls ? listenTls(app, host, port, tls) : listen(app, host, port)
}

/** The PEM files of --tls-cert/--tls-key; a file that cannot be read is a usage error. */
function readTls(files: NonNullable<ServeFlags['tls']>): TlsOptions {
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw new UsageError(`cannot read the ${flag} file '${file}': ${unreadable(err)}.`)
    }
  }
  return { cert: read('--tls-cert', files.cert), key: read('--tls-key', files.key) }
}
