/**
 * Every TypeScript/JavaScript block in the README and docs/ type-checks
 * against the current src/ (test/docs/snippets.ts says how).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { checkSnippets, extractSnippets } from './snippets.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// A folder beside test/helpers, so docs/testing.md's `../helpers/...` resolve as in a test.
const DIR = join(ROOT, 'test/.snippets')
const files = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
const snippets = files.flatMap((f) => extractSnippets(f, readFileSync(join(ROOT, f), 'utf8')))

describe('code blocks in the README and docs', () => {
  it('there are blocks to check, in the README and in docs/', () => {
    expect(snippets.filter((s) => s.where.startsWith('README.md')).length).toBeGreaterThan(3)
    expect(snippets.filter((s) => s.where.startsWith('docs/')).length).toBeGreaterThan(10)
  })

  it('every one type-checks against src/', () => {
    expect(checkSnippets(ROOT, DIR, snippets)).toEqual([])
  }, 180_000) // a whole type-check: seconds alone, over a minute on a loaded machine

  it('the check fails on a wrong option, a wrong import and a wrong call', () => {
    const bad = [
      {
        where: 'bad.md:1',
        lang: 'ts',
        code: "import { createParser } from 'sluice/parser'\ncreateParser({ onEvnt() {} })",
      },
      { where: 'bad.md:5', lang: 'ts', code: "import { nothingHere } from 'sluice/client'" },
      {
        where: 'bad.md:9',
        lang: 'ts',
        code: "import { encodeEvent } from 'sluice/parser'\nencodeEvent(42)",
      },
    ]
    const errors = checkSnippets(ROOT, DIR, bad)
    expect(errors.some((e) => e.startsWith('bad.md:1') && e.includes('onEvnt'))).toBe(true)
    expect(errors.some((e) => e.startsWith('bad.md:5') && e.includes('nothingHere'))).toBe(true)
    expect(errors.some((e) => e.startsWith('bad.md:9'))).toBe(true)
  }, 60_000)
})
