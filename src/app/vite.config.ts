/**
 * Builds the demo page into dist/app (served by `sluice serve` at `/`).
 * Relative asset URLs (`base: './'`), so the page also works behind a proxy
 * under a path prefix. No network at run time: everything is bundled.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
})
