/**
 * The retry policy as a pure function, over all inputs (fast-check): every
 * delay is within its bounds, never above the cap, spec mode is the base.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  RetryPolicy,
  backoffBounds,
  backoffDelay,
  parseRetryAfter,
} from '../../src/client/retry.js'

describe('backoff', () => {
  it('every delay is within [d * (1 - jitter), d], d = min(cap, base * factor^n)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 80 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (base, attempt, factor, jitter, maxDelay, random) => {
          const opts = { factor, jitter, maxDelay }
          const d = backoffDelay(base, attempt, opts, random)
          const full = Math.min(Math.max(maxDelay, base), base * factor ** attempt)
          expect(d).toBeGreaterThanOrEqual(Math.floor(full * (1 - jitter)))
          expect(d).toBeLessThanOrEqual(Math.ceil(full))
          const [lo, hi] = backoffBounds(base, attempt, opts)
          expect(d).toBeGreaterThanOrEqual(lo)
          expect(d).toBeLessThanOrEqual(hi)
        },
      ),
    )
  })

  it('spec mode always waits exactly the reconnection time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e7 }), fc.nat(100), (base, attempt) => {
        expect(backoffDelay(base, attempt, { mode: 'spec' }, Math.random())).toBe(base)
      }),
    )
  })

  it('maxRetries and deadline end the retries with RETRIES_EXHAUSTED; an open resets the count', () => {
    const p = new RetryPolicy({ initialDelay: 100, jitter: 0, maxRetries: 2 })
    expect(p.next(undefined, 0)).toBe(100)
    expect(p.next(undefined, 0)).toBe(200)
    expect(p.next(undefined, 0)).toMatchObject({ code: 'RETRIES_EXHAUSTED' })
    p.succeeded()
    expect(p.next(undefined, 0)).toBe(100)
    const d = new RetryPolicy({ initialDelay: 100, jitter: 0, deadline: 250 })
    expect(d.next(undefined, 0)).toBe(100)
    expect(d.next(undefined, 100)).toMatchObject({ code: 'RETRIES_EXHAUSTED' }) // 100 + 200 > 250
  })

  it('Retry-After: seconds or an HTTP date; it raises the delay, never lowers it', () => {
    expect(parseRetryAfter('3')).toBe(3000)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    expect(parseRetryAfter('soon')).toBeUndefined()
    const p = new RetryPolicy({ initialDelay: 100, jitter: 0 })
    expect(p.next(5000)).toBe(5000)
    expect(p.next(10)).toBe(200)
  })
})
