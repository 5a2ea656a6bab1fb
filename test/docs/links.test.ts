/**
 * The README is the front door: it links every doc in docs/, and no relative
 * link in the README or the docs points at a file that is not there.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** Relative targets of Markdown links and images (`[x](path)`, `![x](path)`), anchors dropped. */
function relativeLinks(markdown: string): string[] {
  const out: string[] = []
  for (const m of markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
    const target = m[1].split('#')[0]
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    out.push(target)
  }
  return out
}

describe('README and docs links', () => {
  it('the README links every docs/*.md', () => {
    const linked = new Set(relativeLinks(readme))
    const unlinked = docs.filter((f) => !linked.has(`docs/${f}`))
    expect(unlinked, "add a row to the README's ## Docs table for each").toEqual([])
  })

  it('every relative link in the README and docs/*.md resolves to a file', () => {
    const broken: string[] = []
    for (const file of ['README.md', ...docs.map((f) => `docs/${f}`)]) {
      const text = readFileSync(join(ROOT, file), 'utf8')
      for (const target of relativeLinks(text)) {
        if (!existsSync(join(ROOT, dirname(file), target))) broken.push(`${file} -> ${target}`)
      }
    }
    expect(broken).toEqual([])
  })
})
