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
  // Exactly the type, as clients compare it (fetch-event-source's README checks
  // `=== 'text/event-stream'`); UTF-8 is the only encoding the format allows.
  headers['content-type'] = 'text/event-stream'
  headers['cache-control'] = 'no-cache, no-transform'
  headers['x-accel-buffering'] = 'no'
  if (http11) headers.connection = 'keep-alive'
  else delete headers.connection
  // A length or encoding would make proxies and clients wait for the end.
  delete headers['content-length']
  delete headers['content-encoding']
  return headers
}

/**
 * `Last-Event-ID` from a header value or the `lastEventId` query parameter of
 * a URL. With `wellFormed` (what the caller's ids look like), a value that
 * holds several comma-joined ids (`25, 51`: a client that sets the header
 * itself and also lets the transport send it; HTTP joins repeated headers
 * so) gives the last of them that is well formed; with none well formed, the
 * value as sent. Without it, the value is taken whole (ids may hold commas).
 */
export function readLastEventId(
  header: string | string[] | null | undefined,
  url: string,
  wellFormed?: (id: string) => boolean,
): string {
  const h = Array.isArray(header) ? header.join(', ') : header
  if (typeof h === 'string' && h !== '') return wellFormed ? lastWellFormed(h, wellFormed) : h
  const q = url.indexOf('?')
  if (q === -1 || url.indexOf('lastEventId=', q) === -1) return ''
  try {
    return new URLSearchParams(url.slice(q + 1)).get('lastEventId') ?? ''
  } catch {
    return ''
  }
}

function lastWellFormed(value: string, wellFormed: (id: string) => boolean): string {
  if (!value.includes(',') || wellFormed(value)) return value
  const parts = value.split(',')
  for (let i = parts.length - 1; i >= 0; i--) {
    const id = parts[i]!.trim()
    if (id !== '' && wellFormed(id)) return id
  }
  return value
}
