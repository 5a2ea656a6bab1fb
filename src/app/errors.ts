/**
 * What the demo page says when something fails: a sentence for a person, not
 * the browser's "Failed to fetch" or a status code alone.
 */
interface ErrorLike {
  code?: string
  name?: string
  message?: string
  details?: { status?: number; body?: unknown }
}

const UNREACHABLE = /failed to fetch|networkerror|load failed|fetch failed|network/i

export function humanError(err: unknown): string {
  const e = (err ?? {}) as ErrorLike
  const status = e.details?.status
  switch (e.code) {
    case 'BAD_STATUS':
      return statusText(status)
    case 'BAD_CONTENT_TYPE':
      return 'The server did not answer with a stream. Is this a sluice server?'
    case 'RETRIES_EXHAUSTED':
      return 'The connection dropped and could not be restored. Try again in a moment.'
    case 'NETWORK':
      return "The server can't be reached. Is sluice serve still running?"
  }
  if (e.name === 'TypeError' && UNREACHABLE.test(e.message ?? '')) {
    return "The server can't be reached. Is sluice serve still running?"
  }
  return 'Something went wrong. Try again.'
}

function statusText(status: number | undefined): string {
  if (status === 401 || status === 403) return 'This server needs a valid token for that.'
  if (status === 404 || status === 410) {
    return 'That answer is no longer on the server (it expired, or the server restarted).'
  }
  if (status === 413) return 'That message is too long for the server.'
  if (status === 429 || status === 503)
    return 'The server is busy right now. Try again in a moment.'
  if (status !== undefined && status >= 500) {
    return `The server had a problem (${status}). Try again in a moment.`
  }
  return `The server refused the request (${status ?? 'no status'}).`
}
