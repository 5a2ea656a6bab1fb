/**
 * `GET /sseEmitterTest?name=...`: the guide's Spring endpoint in sluice. Its
 * Java sends each character of `name` with `SseEmitter.send(String)` every
 * 100 ms from a thread pool, then `complete()`, with timeout 0. Here: one
 * plain `data:<char>` event per character (a code point, so an emoji stays
 * whole) every 100 ms, then the end of the response; a client that leaves
 * stops it. examples/sse-emitter/server.ts is the same as a standalone app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { SluiceError } from '../protocol/errors.js'
import { discardBody } from '../server/http-json.js'
import type { EventStream, EventStreamOptions } from '../server/event-stream.js'

/** Longest `name` served: 1,000 characters stream for 100 s. */
export const MAX_NAME_CHARS = 1000

type OpenStream = (
  req: IncomingMessage,
  res: ServerResponse,
  options?: EventStreamOptions,
) => EventStream

export function sseEmitterTest(openStream: OpenStream) {
  return async (req: IncomingMessage, res: ServerResponse, ctx: { url: URL }): Promise<void> => {
    const name = ctx.url.searchParams.get('name')
    if (name === null) {
      throw new SluiceError('BAD_REQUEST', "Required parameter 'name' is missing: ?name=Hello")
    }
    const chars = Array.from(name)
    if (chars.length > MAX_NAME_CHARS) {
      throw new SluiceError('BAD_REQUEST', `'name' is longer than ${MAX_NAME_CHARS} characters.`)
    }
    if (req.method === 'POST') discardBody(req, res) // the guide's client POSTs a body we do not need
    const stream = openStream(req, res, { timeout: 0 })
    try {
      for (const ch of chars) {
        await stream.send(ch)
        await sleep(100, undefined, { signal: stream.signal })
      }
      stream.complete()
    } catch (err) {
      if (!stream.signal.aborted) stream.completeWithError(err)
    }
  }
}
