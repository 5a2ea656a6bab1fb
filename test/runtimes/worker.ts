/**
 * The Worker of test/runtimes/workerd.test.ts (bundled by esbuild for
 * `--platform=neutral`, run on workerd through miniflare):
 *
 * - `GET /stream?name=&heartbeat=&endAfter=`: an `eventStreamResponse` whose
 *   producer records when its `stream.signal` aborts (in this isolate's memory);
 * - `GET /state`: those records;
 * - `GET /es?url=`: sluice's `EventSource` inside workerd reading `url` for
 *   three events, with `onmessage` and a listener counted;
 * - `/hub/*`: `hub.handler()` of a hub on the memory store.
 */
import { EventSource } from '../../src/client/index.js'
import { createHub, type Hub } from '../../src/hub/index.js'
import { eventStreamResponse } from '../../src/server/index.js'

interface StreamRecord {
  opened: number
  aborted: boolean
  closeReason: string
}
const streams: { [name: string]: StreamRecord } = {}
let hub: Hub | undefined

function stream(request: Request, url: URL): Response {
  const name = url.searchParams.get('name') ?? 'a'
  const heartbeat = Number(url.searchParams.get('heartbeat') ?? 100)
  const endAfter = Number(url.searchParams.get('endAfter') ?? 0)
  return eventStreamResponse(
    request,
    async (s) => {
      const rec: StreamRecord = { opened: Date.now(), aborted: false, closeReason: '' }
      streams[name] = rec
      s.signal.addEventListener('abort', () => (rec.aborted = true))
      void s.closed.then((why) => (rec.closeReason = why))
      await s.send({ event: 'open', data: name })
      if (endAfter > 0) {
        await new Promise((r) => setTimeout(r, endAfter))
        s.complete()
      }
    },
    { heartbeat },
  )
}

async function eventSource(url: URL): Promise<Response> {
  const es = new EventSource(url.searchParams.get('url') ?? '')
  const seen = { onmessage: 0, listener: 0, ids: [] as string[], data: [] as string[] }
  const done = new Promise<void>((resolve) => {
    es.onmessage = (e) => {
      seen.onmessage++
      seen.ids.push(e.lastEventId)
      seen.data.push(e.data)
      if (seen.onmessage === 3) resolve()
    }
    es.addEventListener('message', () => seen.listener++)
    setTimeout(resolve, 5000)
  })
  await done
  es.close()
  return Response.json(seen)
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/stream') return stream(request, url)
    if (url.pathname === '/state') return Response.json(streams)
    if (url.pathname === '/es') return eventSource(url)
    if (url.pathname.startsWith('/hub/')) {
      hub ??= createHub({ heartbeat: 100 })
      const inner = new Request(new URL(url.pathname.slice(4) + url.search, url), request)
      return (hub.handler() as (r: Request) => Promise<Response>)(inner)
    }
    return new Response('not found', { status: 404 })
  },
}
