/**
 * Every error code sluice can raise or answer with is documented: this test
 * reads the sources, collects each code, and looks for it in docs/errors.md.
 * Adding a code without a row there fails it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sources(path)
    return /\.(ts|tsx|vue)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

/** Codes in the sources: where a `SluiceError` is made, a JSON `error`/`code` is written, or the code union names one. */
function collectCodes(text: string): Set<string> {
  const codes = new Set<string>()
  const patterns = [
    // Any quoted CONSTANT_CASE literal with an underscore: in this codebase, always an error code.
    /['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"`]/g,
    // One-word codes in the places codes go.
    /new SluiceError\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /super\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\berror:[^,}\n]*?['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\bcode:\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /sendJsonError\(\s*[^,]+,\s*\d+,\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /sendError\(\s*[^,]+,\s*\d+,\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
  ]
  for (const re of patterns) for (const m of text.matchAll(re)) codes.add(m[1])
  return codes
}

function codeUnion(): Set<string> {
  const text = readFileSync(join(ROOT, 'src/protocol/errors.ts'), 'utf8')
  const union = /export type SluiceErrorCode =([\s\S]*?)\n\n/.exec(text)?.[1] ?? ''
  return new Set([...union.matchAll(/\|\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]))
}

describe('docs/errors.md lists every error code', () => {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
  const used = new Map<string, string>()
  for (const file of sources(join(ROOT, 'src'))) {
    for (const code of collectCodes(readFileSync(file, 'utf8'))) {
      if (!used.has(code)) used.set(code, file.slice(ROOT.length))
    }
  }
  for (const code of codeUnion()) if (!used.has(code)) used.set(code, 'src/protocol/errors.ts')

  it('finds the codes (the scan itself works)', () => {
    for (const code of [
      'EVENT_TOO_LARGE',
      'INVALID_JSON',
      'CORS_REFUSED',
      'MISSING_DEPENDENCY',
      'RUN_TRUNCATED',
      'RUN_FAILED',
      'RUN_NOT_FOUND',
      'RUN_LIMIT',
      'UNAUTHORIZED',
      'INTERNAL',
      'TIMEOUT',
    ]) {
      expect(used.has(code), code).toBe(true)
    }
    expect(collectCodes("throw new SluiceError(\n  'NEW_THING',\n  'msg')")).toContain('NEW_THING')
    expect(collectCodes("sendJsonError(res, 418, 'TEAPOT', 'short and stout')")).toContain('TEAPOT')
    expect(collectCodes("if (err.code !== 'EPIPE') throw err")).not.toContain('EPIPE')
  })

  it('each one has a row in docs/errors.md', () => {
    const missing = [...used]
      .filter(([code]) => !doc.includes(`\`${code}\``))
      .map(([code, file]) => `${code} (${file})`)
    expect(missing, 'add these codes to docs/errors.md').toEqual([])
  })
})
