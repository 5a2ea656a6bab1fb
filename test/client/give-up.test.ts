/**
 * When the client gives up, its error says how many attempts failed and why
 * the last one did (the network error's own cause, not just "fetch failed").
 */
import { describe, expect, it } from 'vitest'
import { fetchEventSource, type SluiceError } from '../../src/client/index.js'
import { backoffDelay } from '../../src/client/retry.js'
import { freePort } from '../helpers/external.js'

async function giveUp(maxRetries: number): Promise<SluiceError> {
  // A loopback port nobody listens on: every attempt is refused at once.
  const port = await freePort()
  let errors = 0
  try {
    await fetchEventSource(`http://127.0.0.1:${port}/events`, {
      retry: { maxRetries, initialDelay: 1, maxDelay: 5 },
      onerror: () => {
        errors++
      },
    })
  } catch (err) {
    expect(errors).toBe(maxRetries + 1)
    return err as SluiceError
  }
  throw new Error('fetchEventSource did not give up')
}

describe('RETRIES_EXHAUSTED', () => {
  it('with no retries: one failed attempt, and the refused connection named', async () => {
    const err = await giveUp(0)
    expect(err.code).toBe('RETRIES_EXHAUSTED')
    expect(err.details.attempts).toBe(1)
    expect(err.message).toContain('Gave up after 1 consecutive failed attempt (')
    // Node's fetch names ECONNREFUSED; Deno's says 'Connection refused (os error 111)'.
    expect(err.message).toMatch(/ECONNREFUSED|Connection refused/)
  })

  it('with 2 retries: three failed attempts', async () => {
    const err = await giveUp(2)
    expect(err.details.attempts).toBe(3)
    expect(err.message).toContain('Gave up after 3 consecutive failed attempts')
  })
})

describe('backoffDelay', () => {
  it('a slow factor keeps growing past 64 retries, up to the cap (fast-check found 1.01 stopping short)', () => {
    const opts = { factor: 1.01, jitter: 0, maxDelay: 120_000 }
    expect(backoffDelay(50_000, 80, opts, 0)).toBe(Math.round(50_000 * 1.01 ** 80))
    expect(backoffDelay(50_000, 100_000, opts, 0)).toBe(120_000)
    expect(backoffDelay(0, 100_000, { factor: 2 }, 0.5)).toBe(0)
  })
})
