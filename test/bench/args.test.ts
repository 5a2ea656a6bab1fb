/**
 * `npm run bench:fanout` (and `sluice bench`) refuse options they cannot run
 * with exit 2 and a line naming the problem, before starting anything: a
 * mistyped count must not turn into NaN connections or a silent default, and
 * a mistyped option must not be ignored.
 */
import { expect, it, vi } from 'vitest'
import { main } from '../../bench/fanout/main.js'

const cases: [string[], string][] = [
  [['--rounds', 'x'], "--rounds takes a whole number >= 1, not 'x'"],
  [['--rounds', '0'], "--rounds takes a whole number >= 1, not '0'"],
  [['--conns', '1.5'], "--conns takes a whole number >= 1, not '1.5'"],
  [['--msgs', '-3'], "--msgs takes a whole number >= 1, not '-3'"],
  [['--idle-conns', ''], "--idle-conns takes a whole number >= 1, not ''"],
  [['--latency-specs', '0,7'], '--latency-specs takes indices 0-1'],
  [['--bogus', '1'], "unknown option '--bogus'"],
  [['--pin', 'maybe'], '--pin takes on or off'],
  [['--variants', 'nope'], 'unknown variants: nope'],
  [['--scenarios', 'nope'], 'unknown scenarios: nope'],
  [['stray'], "unknown argument 'stray'"],
]

it.each(cases)('bench:fanout %j exits 2: %s', async (argv, message) => {
  const written: string[] = []
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    written.push(String(chunk))
    return true
  })
  try {
    expect(await main(argv)).toBe(2)
  } finally {
    spy.mockRestore()
  }
  expect(written.join('')).toContain(message)
})
