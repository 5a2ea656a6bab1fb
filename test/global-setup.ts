/**
 * vitest globalSetup: gives the workers a file to record suites skipped for a
 * missing program (test/helpers/external.ts), and prints one summary line at
 * the end naming them and the command that enables them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import NEEDS from './helpers/needs.json' with { type: 'json' }

interface Skipped {
  suite: string
  file: string
  missing: string[]
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-skips-'))
  const log = join(dir, 'skipped.jsonl')
  process.env.SLUICE_SKIP_LOG = log
  return () => {
    let lines: string[] = []
    try {
      lines = readFileSync(log, 'utf8').split('\n').filter(Boolean)
    } catch {
      // nothing was skipped
    }
    rmSync(dir, { recursive: true, force: true })
    if (lines.length === 0) return
    console.log(summary(lines.map((l) => JSON.parse(l) as Skipped)))
  }
}

/** `sluice: skipped N suites (…) because X, Y are not installed; …` on one line. */
export function summary(skipped: Skipped[]): string {
  const missing = [...new Set(skipped.flatMap((s) => s.missing))].sort()
  const files = [...new Set(skipped.map((s) => s.file || s.suite))].sort()
  // The Java jars are downloaded by test:setup, not apt-get installed (see scripts/test-setup.mjs).
  const apt = missing.filter((m) => m !== 'async-http-client')
  const pkgs = [...new Set(apt.map((m) => (NEEDS as Record<string, string>)[m] ?? m))].join(' ')
  return (
    `sluice: skipped ${skipped.length} suites in ${files.length} files because ${missing.join(', ')} ` +
    `${missing.length === 1 ? 'is' : 'are'} not installed: ${files.join(', ')}. ` +
    `Enable them with \`npm run test:setup\`${pkgs ? ` (apt-get install -y ${pkgs})` : ''}; SLUICE_STRICT=1 makes them fail instead.`
  )
}
