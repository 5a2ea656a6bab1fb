/**
 * Vite dev server in front of `sluice serve`: the front end on :5173, the API
 * on :8080, event streams arriving event by event.
 *
 * Vite 7's `server.proxy` (http-proxy-3) passes each chunk on as it arrives,
 * does not compress, and closes the upstream request when the browser goes
 * away, so plain entries are enough. Tested by test/frontend/vite-proxy.test.ts
 * (events spread over time; a closed tab stops the producer).
 */
import { defineConfig } from 'vite'

const target = process.env.SLUICE_URL ?? 'http://127.0.0.1:8080'
const toSluice = { target, changeOrigin: true }

export default defineConfig({
  server: {
    proxy: {
      '/chat': toSluice,
      '/events': toSluice,
      '/publish': toSluice,
      '/healthz': toSluice,
      '/metrics': toSluice,
    },
  },
})
