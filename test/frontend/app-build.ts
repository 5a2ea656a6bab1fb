/**
 * Build the demo page (src/app) with its own Vite config into a temp dir and
 * start the real `sluice serve` app serving it, for the browser tests.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { type RunningApp, serveApp } from '../helpers/serve.js'

export async function buildApp(outDir: string): Promise<void> {
  await build({
    configFile: fileURLToPath(new URL('../../src/app/vite.config.ts', import.meta.url)),
    logLevel: 'error',
    build: { outDir, emptyOutDir: true },
  })
}

export type Served = RunningApp

/** `sluice serve` in this process, on a free loopback port, showing the page built into `appDir`. */
export function serveWithApp(appDir: string): Promise<Served> {
  process.env.SLUICE_APP_DIR = appDir
  return serveApp()
}

export async function tempDir(
  prefix: string,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
