/**
 * Every error code sluice can raise or answer with is documented: this test
 * reads the sources, collects each code, and looks for it in docs/errors.md.
 * Adding a code without a row there fails it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../src/protocol/error-codes.js'
import { HTTP_STATUS } from '../../src/protocol/errors.js'

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
  // Node's own error codes (ERR_STREAM_PREMATURE_CLOSE...), compared against, are not sluice's.
  for (const code of codes) if (code.startsWith('ERR_')) codes.delete(code)
  return codes
}

/** The one registry (src/protocol/error-codes.ts) with each code's default HTTP status (errors.ts): code -> status and meaning. */
const REGISTRY: Record<string, { status?: number; meaning: string }> = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, meaning]) => [
    code,
    { status: (HTTP_STATUS as Record<string, number | undefined>)[code], meaning },
  ]),
)

function codeUnion(): Set<string> {
  return new Set(Object.keys(REGISTRY))
}

interface DocRow {
  code: string
  /** The status cell; undefined when the row's table has no status column. */
  status: string | undefined
  line: number
}

/** The rows of docs/errors.md's tables: `| \`CODE\` | ...`, with the status cell when the table has one. */
function docRows(doc: string): DocRow[] {
  const rows: DocRow[] = []
  let statusColumn = -1
  doc.split('\n').forEach((text, i) => {
    if (!text.startsWith('|')) return
    const cells = text
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim())
    if (cells[0] === 'code') {
      statusColumn = cells.indexOf('status')
      return
    }
    const code = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0] ?? '')?.[1]
    if (!code) return
    rows.push({ code, status: statusColumn < 0 ? undefined : cells[statusColumn], line: i + 1 })
  })
  return rows
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
    expect(collectCodes("code === 'ERR_STREAM_PREMATURE_CLOSE'")).toEqual(new Set())
  })

  it('every code used in src/ is in the registry (ERROR_CODES)', () => {
    const unknown = [...used].filter(([code]) => !(code in REGISTRY)).map(([c, f]) => `${c} (${f})`)
    expect(unknown, 'add these codes to ERROR_CODES in src/protocol/error-codes.ts').toEqual([])
  })

  it('docs/errors.md documents each registry code with the same HTTP status', () => {
    const rows = docRows(doc)
    expect(rows.length).toBeGreaterThan(30)
    const problems: string[] = []
    for (const row of rows) {
      const info = REGISTRY[row.code]
      if (!info) {
        problems.push(`docs/errors.md:${row.line}: ${row.code} is not in ERROR_CODES`)
        continue
      }
      const want = info.status === undefined ? '' : String(info.status)
      if (row.status !== undefined && row.status !== want) {
        problems.push(
          `docs/errors.md:${row.line}: ${row.code} status ${row.status || '(none)'}, registry ${want || '(none)'}`,
        )
      }
    }
    for (const [code, info] of Object.entries(REGISTRY)) {
      const mine = rows.filter((r) => r.code === code)
      if (mine.length === 0) problems.push(`${code}: no row in docs/errors.md`)
      else if (info.status !== undefined && !mine.some((r) => r.status !== undefined)) {
        problems.push(
          `${code}: registry status ${info.status}, but no row of docs/errors.md shows a status`,
        )
      }
    }
    expect(problems).toEqual([])
  })

  it('the registry check catches a wrong status and an undocumented code', () => {
    const rows = docRows(
      '| code | status | when |\n| --- | --- | --- |\n| `NOT_FOUND` | 410 | x |\n',
    )
    expect(rows).toEqual([{ code: 'NOT_FOUND', status: '410', line: 3 }])
    expect(docRows('| code | when |\n| `TIMEOUT` | x |')).toEqual([
      { code: 'TIMEOUT', status: undefined, line: 2 },
    ])
  })

  it('each one has a row in docs/errors.md', () => {
    const missing = [...used]
      .filter(([code]) => !doc.includes(`\`${code}\``))
      .map(([code, file]) => `${code} (${file})`)
    expect(missing, 'add these codes to docs/errors.md').toEqual([])
  })
})
