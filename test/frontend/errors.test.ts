/** The demo page's error sentences (src/app/errors.ts): never the browser's raw text. */
import { describe, expect, it } from 'vitest'
import { humanError } from '../../src/app/errors.js'
import { SluiceError } from '../../src/protocol/errors.js'

describe("the demo page's error messages", () => {
  it('an unreachable server, in the words of Chromium, Firefox, Safari and Node', () => {
    for (const raw of [
      'Failed to fetch',
      'NetworkError when attempting to fetch resource.',
      'Load failed',
      'fetch failed',
    ]) {
      const text = humanError(new TypeError(raw))
      expect(text).toBe("The server can't be reached. Is sluice serve still running?")
      expect(text).not.toContain(raw)
    }
  })

  it('a status says what it means', () => {
    const bad = (status: number) =>
      humanError(new SluiceError('BAD_STATUS', `HTTP ${status}`, { status }))
    expect(bad(503)).toMatch(/busy/)
    expect(bad(429)).toMatch(/busy/)
    expect(bad(401)).toMatch(/token/)
    expect(bad(404)).toMatch(/no longer on the server/)
    expect(bad(500)).toMatch(/problem \(500\)/)
    expect(bad(400)).toMatch(/refused the request \(400\)/)
  })

  it('retries given up, a wrong content type, anything else', () => {
    expect(humanError(new SluiceError('RETRIES_EXHAUSTED', 'x'))).toMatch(/could not be restored/)
    expect(humanError(new SluiceError('BAD_CONTENT_TYPE', 'x'))).toMatch(/not answer with a stream/)
    expect(humanError(new Error('boom'))).toBe('Something went wrong. Try again.')
    expect(humanError(undefined)).toBe('Something went wrong. Try again.')
  })
})
