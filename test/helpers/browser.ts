/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven
 * by playwright-core, each launch with a fresh profile in a temp dir that
 * `close()` removes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { requireBinary } from './external.js'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface Browser {
  context: BrowserContext
  close: () => Promise<void>
}

export interface LaunchOptions {
  colorScheme?: 'light' | 'dark'
  viewport?: { width: number; height: number }
  /** Flags beyond CHROMIUM_ARGS (e.g. `--ignore-certificate-errors` for a test's own certificate). */
  args?: string[]
}

/** Chromium with a fresh profile; a missing chromium fails with its install command. */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = requireBinary('chromium')
  const dir = await mkdtemp(join(tmpdir(), 'sluice-chromium-'))
  const { args = [], ...rest } = opts
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    args: [...CHROMIUM_ARGS, ...args],
    headless: true,
    ...rest,
  })
  return {
    context,
    async close() {
      await context.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
}
