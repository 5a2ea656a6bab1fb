// The guide's Spring `GET sseEmitterTest?name=` endpoint, written with sluice's
// emitter: send each character every 100 ms, then complete; timeout 0 (never
// time out) as the guide sets it. Run: node --import tsx examples/sse-emitter/server.ts
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { createEventStream } from 'sluice/server'

createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (url.pathname !== '/sseEmitterTest') return void res.writeHead(404).end()
  const name = url.searchParams.get('name') ?? ''
  const sseEmitter = createEventStream(req, res, { timeout: 0 }) // new SseEmitter(0L)
  try {
    for (const ch of name) {
      await sseEmitter.send(ch) // data:<ch>
      await sleep(100, undefined, { signal: sseEmitter.signal }) // a client that leaves stops it
    }
    sseEmitter.complete()
  } catch (err) {
    sseEmitter.completeWithError(err) // an `error` event, then the end
  }
}).listen(Number(process.env.PORT ?? 8080), '127.0.0.1')
