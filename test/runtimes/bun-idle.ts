/**
 * Run by `npm run test:runtimes` under Bun (not a vitest file): a stream with
 * no events for 30 s stays open behind `Bun.serve`'s defaults (its
 * `idleTimeout` is 10 s), thanks to the default heartbeat alone. Prints one
 * JSON line, exits 1 if the stream was cut.
 */
import { eventStreamResponse } from '../../src/server/index.js'

interface BunServer {
  port: number
  stop(force: boolean): void
}
const Bun = (globalThis as { Bun?: { serve(o: object): BunServer } }).Bun
if (!Bun) throw new Error('run this under Bun')

const QUIET_MS = Number(process.env.SLUICE_BUN_IDLE_MS ?? 30_000)
let closeReason = ''
// Bun.serve's defaults: no idleTimeout given.
const server = Bun.serve({
  port: 0,
  fetch: (req: Request) =>
    eventStreamResponse(req, async (stream) => {
      void stream.closed.then((why) => (closeReason = why))
      await stream.send({ event: 'open', data: 'quiet from now on' })
    }),
})
const t0 = Date.now()
const res = await fetch(`http://127.0.0.1:${server.port}/`)
const reader = res.body!.getReader()
const stop = setTimeout(() => void reader.cancel(), QUIET_MS)
let text = ''
let error = ''
const utf8 = new TextDecoder()
try {
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    text += utf8.decode(value, { stream: true })
  }
} catch (err) {
  error = String(err)
}
clearTimeout(stop)
const openMs = Date.now() - t0
server.stop(true)
const ok = !error && openMs >= QUIET_MS && text.startsWith('event:open\n')
console.log(
  JSON.stringify({
    check: `Bun.serve defaults: a stream quiet for ${QUIET_MS / 1000} s stays open`,
    ok,
    openMs,
    heartbeats: text.match(/^:\n/gm)?.length ?? 0,
    error,
    serverCloseReason: closeReason,
  }),
)
process.exit(ok ? 0 : 1)
