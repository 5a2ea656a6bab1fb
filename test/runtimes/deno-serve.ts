/**
 * Run by `npm run test:runtimes` under Deno (bundled by esbuild first; not a
 * vitest file): `eventStreamResponse` behind `Deno.serve` with
 * `requestSignal: false` sees a client that leaves mid-stream (the body's
 * cancel) within 2 s, and Deno prints no warning about `request.signal`
 * (the runner checks stderr). Prints one JSON line, exits 1 on failure.
 */
import { eventStreamResponse } from '../../src/server/index.js'

interface DenoServer {
  addr: { port: number }
  shutdown(): Promise<void>
}
const Deno = (
  globalThis as {
    Deno?: { serve(o: object, h: (req: Request) => Response): DenoServer }
  }
).Deno
if (!Deno) throw new Error('run this under Deno')

let closedAt = 0
let closeReason = ''
let signalAborted = false
const server = Deno.serve({ port: 0, onListen() {} }, (req) =>
  eventStreamResponse(
    req,
    async (stream) => {
      void stream.closed.then((why) => {
        closeReason = why
        closedAt = Date.now()
      })
      stream.signal.addEventListener('abort', () => (signalAborted = true))
      await stream.send({ event: 'open', data: 'hello' })
    },
    { requestSignal: false, heartbeat: 200 },
  ),
)
const ac = new AbortController()
const res = await fetch(`http://127.0.0.1:${server.addr.port}/`, { signal: ac.signal })
const reader = res.body!.getReader()
await reader.read()
const leftAt = Date.now()
ac.abort()
while (!closedAt && Date.now() - leftAt < 3000) await new Promise((r) => setTimeout(r, 20))
await server.shutdown()
const seenMs = closedAt ? closedAt - leftAt : -1
const ok = closeReason === 'disconnect' && signalAborted && seenMs >= 0 && seenMs <= 2000
console.log(
  JSON.stringify({
    check: 'Deno.serve: a client that leaves is seen within 2 s, requestSignal: false',
    ok,
    closeReason,
    signalAborted,
    seenMs,
  }),
)
if (!ok) throw new Error('disconnect not seen')
