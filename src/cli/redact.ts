/**
 * What the CLI logs never carries a secret: token query parameters
 * (`access_token`, `token`, ...) and URL passwords (`redis://:pw@host`) are
 * replaced by `***`, in a URL or anywhere in a line of text.
 */
const SECRET_PARAMS =
  /([?&](?:access_token|token|jwt|password|passwd|secret|api_key|apikey|key|auth)=)[^&#\s"']*/gi
/** `scheme://user:password@` (the password part). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*(@)/gi

export function redact(text: string): string {
  return text.replace(SECRET_PARAMS, '$1***').replace(URL_PASSWORD, '$1***$2')
}

/**
 * Log lines about clients' faults, at most `max` per `windowMs`; past it one
 * line says how many were left out. A stranger must not flood the log.
 */
export function rateLimitedLog(
  log: (line: string) => void,
  max = 20,
  windowMs = 10_000,
  now: () => number = Date.now,
): (line: string) => void {
  let windowStart = -Infinity
  let count = 0
  let dropped = 0
  return (line) => {
    const t = now()
    if (t - windowStart >= windowMs) {
      if (dropped > 0) log(`(${dropped} similar lines left out in the last ${windowMs / 1000} s)`)
      windowStart = t
      count = 0
      dropped = 0
    }
    if (count < max) {
      count++
      log(line)
    } else dropped++
  }
}
