/**
 * Build the demo page (src/app) with its own Vite config into a temp dir and
 * start the real `sluice serve` app serving it, with a Chromium to open it,
 * for the browser tests.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'
import { type RunningApp, serveApp } from '../helpers/serve.js'
import { type Browser, launchBrowser } from './support.js'

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

export interface ServedPage {
  served: Served
  browser: Browser
  /** Close the browser, shut the app down and remove the built page. */
  close: () => Promise<void>
}

/**
 * Build a page into a fresh temp dir with `build`, show it with `sluice serve`
 * in this process, and launch Chromium for it.
 */
export async function servePage(
  prefix: string,
  build: (outDir: string) => Promise<void>,
): Promise<ServedPage> {
  const out = await tempDir(prefix)
  let served: Served | undefined
  try {
    await build(out.dir)
    served = await serveWithApp(out.dir)
    const browser = await launchBrowser()
    const app = served
    return {
      served: app,
      browser,
      async close() {
        await browser.close()
        await app.close()
        await out.remove()
      },
    }
  } catch (err) {
    await served?.close()
    await out.remove()
    throw err
  }
}
