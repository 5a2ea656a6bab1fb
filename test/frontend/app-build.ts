/**
 * Build the demo page (src/app) with its own Vite config into a temp dir and
 * start the real `sluice serve` app serving it, for the browser tests.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { createServeApp, listen, type ServeApp, shutdown } from '../../src/cli/serve.js'

export async function buildApp(outDir: string): Promise<void> {
  await build({
    configFile: fileURLToPath(new URL('../../src/app/vite.config.ts', import.meta.url)),
    logLevel: 'error',
    build: { outDir, emptyOutDir: true },
  })
}

export interface Served {
  app: ServeApp
  server: Server
  url: string
  close: () => Promise<void>
}

/** `sluice serve` in this process, on a free loopback port, showing the page built into `appDir`. */
export async function serveWithApp(appDir: string): Promise<Served> {
  process.env.SLUICE_APP_DIR = appDir
  const app = createServeApp({ log: () => {} })
  const server = await listen(app, '127.0.0.1', 0)
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    app,
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => shutdown(app, server, 500),
  }
}

export async function tempDir(
  prefix: string,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
