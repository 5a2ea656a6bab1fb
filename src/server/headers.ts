/** The event-stream response headers, and `Last-Event-ID` from a request. */
import type { EventStreamOptions } from './options.js'

/** The event-stream response headers, plus `extra` (which cannot override them). */
export function eventStreamHeaders(
  extra: EventStreamOptions['headers'],
  http11: boolean,
): Record<string, string | number | readonly string[]> {
  const headers: Record<string, string | number | readonly string[]> = {}
  if (extra) {
    for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v
  }
  headers['content-type'] = 'text/event-stream; charset=utf-8'
  headers['cache-control'] = 'no-cache, no-transform'
  headers['x-accel-buffering'] = 'no'
  if (http11) headers.connection = 'keep-alive'
  else delete headers.connection
  // A length or encoding would make proxies and clients wait for the end.
  delete headers['content-length']
  delete headers['content-encoding']
  return headers
}

/** `Last-Event-ID` from a header value or the `lastEventId` query parameter of a URL. */
export function readLastEventId(header: string | string[] | null | undefined, url: string): string {
  const h = Array.isArray(header) ? header[0] : header
  if (typeof h === 'string' && h !== '') return h
  const q = url.indexOf('?')
  if (q === -1 || url.indexOf('lastEventId=', q) === -1) return ''
  try {
    return new URLSearchParams(url.slice(q + 1)).get('lastEventId') ?? ''
  } catch {
    return ''
  }
}
