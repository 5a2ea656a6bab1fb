/**
 * The public API: docs/api.md is the report of every entry point's exports
 * and their types (test/helpers/api-report.ts). A change to the surface must
 * come with the regenerated report (`npm run api:report`), so review sees it;
 * and the surface stays small.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { apiReport, runtimeExportCount } from './helpers/api-report.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Issue 13: at most 60 distinct runtime exports across all entry points together. */
const MAX_RUNTIME_EXPORTS = 60

describe('the public API', () => {
  const report = apiReport(ROOT)

  it('docs/api.md is the current report (run `npm run api:report` and review the diff)', () => {
    expect(readFileSync(`${ROOT}/docs/api.md`, 'utf8')).toBe(report)
  }, 60_000)

  it(`has at most ${MAX_RUNTIME_EXPORTS} distinct runtime exports`, () => {
    const n = runtimeExportCount(report)
    expect(n).toBeGreaterThan(20)
    expect(n).toBeLessThanOrEqual(MAX_RUNTIME_EXPORTS)
  })

  it('names each entry point of package.json, with its functions and types', () => {
    for (const entry of [
      'sluice/parser',
      'sluice/server',
      'sluice/client',
      'sluice/hub',
      'sluice/vue',
    ]) {
      expect(report).toContain(`## \`${entry}\``)
    }
    expect(report).toMatch(
      /function createParser\(callbacks: ParserCallbacks\): EventStreamParserHandle/,
    )
    expect(report).toMatch(
      /interface EventSourceMessage \{ id: string; event: string; data: string; retry\?: number \| undefined \}/,
    )
  })
})
