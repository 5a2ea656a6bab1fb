/**
 * The reconnection policy shared by fetchEventSource, events() and EventSource.
 *
 * WHATWG HTML 9.2.3: the "reconnection time" starts at a UA-chosen value and is
 * set by the server's `retry:` field (digits only; the parser enforces that).
 * The spec waits exactly that long before every reconnection ("spec" mode).
 * The default "backoff" mode uses it as the base of an exponential backoff with
 * jitter and a cap, so a server restart does not get every client back at the
 * same instant, and a dead server is not polled once a second forever.
 */
import { SluiceError } from '../protocol/errors.js'

export interface RetryOptions {
  /** `'backoff'` (default): base * factor^n, jittered, capped. `'spec'`: always the base, as EventSource does. */
  mode?: 'backoff' | 'spec'
  /** The base before the server sends `retry:` (ms). Default 1000. */
  initialDelay?: number
  /** The cap on one delay (ms). Default 30 000. A server `retry:` above the cap raises the cap to it. */
  maxDelay?: number
  /** Growth per consecutive failure. Default 2. */
  factor?: number
  /** Fraction of each delay that is randomised: the delay is uniform in [d * (1 - jitter), d]. Default 0.5. */
  jitter?: number
  /** Give up after this many consecutive failed attempts (a successful open resets the count). Default: never. */
  maxRetries?: number
  /** Give up when an outage (time since the first failure after the last successful open) lasts longer (ms). Default: never. */
  deadline?: number
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  mode: 'backoff',
  initialDelay: 1000,
  maxDelay: 30_000,
  factor: 2,
  jitter: 0.5,
  maxRetries: Number.POSITIVE_INFINITY,
  deadline: Number.POSITIVE_INFINITY,
}

/**
 * The delay before reconnection number `attempt` (0 = the first retry after a
 * failure or a clean end). `random` is in [0, 1).
 */
export function backoffDelay(
  base: number,
  attempt: number,
  options: RetryOptions = {},
  random: number = Math.random(),
): number {
  const o = { ...DEFAULT_RETRY, ...options }
  if (o.mode === 'spec') return base
  const cap = Math.max(o.maxDelay, base)
  // No cap on the exponent: a large one gives Infinity, and min() takes the cap
  // (capping it at, say, 64 stopped a slow factor like 1.01 short of maxDelay).
  // A base of 0 stays 0 (0 * Infinity would be NaN).
  const full = base === 0 ? 0 : Math.min(cap, base * o.factor ** attempt)
  const jitter = Math.min(1, Math.max(0, o.jitter))
  return Math.round(full * (1 - jitter * random))
}

/** The bounds `backoffDelay` stays within, for documentation and tests. */
export function backoffBounds(
  base: number,
  attempt: number,
  options: RetryOptions = {},
): [number, number] {
  return [
    backoffDelay(base, attempt, options, 1 - Number.EPSILON),
    backoffDelay(base, attempt, options, 0),
  ]
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number.parseInt(v, 10) * 1000
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

/**
 * Whether an error ends the stream for good under the default policy: a
 * `SluiceError` marked final (4xx but 408/429, a wrong content type, an
 * exhausted budget). Everything else (network errors, 5xx, 408, 429, a stalled
 * stream, an error thrown by a callback) is retried.
 */
export function isFinalError(err: unknown): boolean {
  return err instanceof SluiceError && err.details.final === true
}

/** Consecutive-failure bookkeeping for one stream. */
export class RetryPolicy {
  readonly options: Required<RetryOptions>
  /** The reconnection time: the initial delay until the server sends `retry:`. */
  base: number
  /** Consecutive attempts since the last successful open. */
  attempt = 0
  private outageStart: number | undefined
  private readonly random: () => number

  constructor(options: RetryOptions = {}, random: () => number = Math.random) {
    this.options = { ...DEFAULT_RETRY, ...options }
    for (const k of ['initialDelay', 'maxDelay', 'factor'] as const) {
      if (!(this.options[k] >= 0) || (k === 'factor' && this.options[k] < 1)) {
        throw new SluiceError(
          'INVALID_ARGUMENT',
          `retry.${k} must be a number >= ${k === 'factor' ? 1 : 0}.`,
          {
            [k]: this.options[k],
          },
        )
      }
    }
    this.base = this.options.initialDelay
    this.random = random
  }

  /** The server sent `retry: ms`. */
  setServerRetry(ms: number): void {
    this.base = ms
  }

  /** A connection opened: the next failure starts from the base again. */
  succeeded(): void {
    this.attempt = 0
    this.outageStart = undefined
  }

  /**
   * The delay before the next attempt, or a `RETRIES_EXHAUSTED` error when the
   * budget is spent. `atLeast` is a server's `Retry-After`.
   */
  next(atLeast?: number, now = Date.now()): number | SluiceError {
    if (this.outageStart === undefined) this.outageStart = now
    if (this.attempt >= this.options.maxRetries) {
      return new SluiceError(
        'RETRIES_EXHAUSTED',
        // `attempt` counts the retries made; the failures are those plus the first try.
        `Gave up after ${this.attempt + 1} consecutive failed attempt${this.attempt === 0 ? '' : 's'} (retry.maxRetries = ${this.options.maxRetries}).`,
        { attempts: this.attempt + 1, final: true },
      )
    }
    let delay = backoffDelay(this.base, this.attempt, this.options, this.random())
    if (atLeast !== undefined && atLeast > delay) delay = atLeast
    if (now - this.outageStart + delay > this.options.deadline) {
      return new SluiceError(
        'RETRIES_EXHAUSTED',
        `Gave up: the next attempt would fall after the retry deadline (${this.options.deadline} ms since the first failure).`,
        { attempts: this.attempt + 1, deadline: this.options.deadline, final: true },
      )
    }
    this.attempt++
    return delay
  }
}
