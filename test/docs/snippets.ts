/**
 * Code blocks of the README and docs/, type-checked as a reader would paste
 * them: each ```ts / ```js block (and a ```vue block's <script setup>) is its own
 * module; `sluice/*` resolves to src/ through package.json's exports; the
 * placeholders a snippet leaves to the reader (`model`, `render`, `app`...) are
 * declared once in placeholders(). A block without imports continues the earlier
 * blocks of its file, so it gets their imports.
 */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

export interface Snippet {
  /** `docs/hub.md:8`: the file and the line of the opening fence. */
  where: string
  lang: string
  code: string
}

const FENCE = /^```(\w+)[^\n]*\n([\s\S]*?)^```$/gm
const CHECKED = new Set(['ts', 'typescript', 'js', 'javascript', 'vue'])

/** The checkable code blocks of one Markdown file, in order. */
export function extractSnippets(file: string, markdown: string): Snippet[] {
  const out: Snippet[] = []
  for (const m of markdown.matchAll(FENCE)) {
    const lang = m[1] as string
    if (!CHECKED.has(lang)) continue
    let code = m[2] as string
    if (lang === 'vue') {
      const script = /<script setup[^>]*>([\s\S]*?)<\/script>/.exec(code)
      if (!script) continue
      code = script[1] as string
    }
    const line = markdown.slice(0, m.index).split('\n').length
    out.push({ where: `${file}:${line}`, lang, code })
  }
  return out
}

/** What a snippet leaves to the reader: declared, so the rest can be checked. */
function placeholders(src: string): string {
  return `
declare const response: Response
declare const request: Request
declare const req: import('node:http').IncomingMessage
declare const res: import('node:http').ServerResponse
declare const app: any
declare const hub: import('${src}/hub/hub.js').Hub
declare const runs: import('${src}/runs/runs.js').Runs
declare const ctrl: AbortController
declare const signal: AbortSignal
declare const prompt: string
declare const body: string
declare const t: string
declare const chunk: Uint8Array
declare const resumeUrl: string
declare const lastEventId: string
declare const frame: import('${src}/protocol/envelope.js').EnvelopeFrame
declare const ev: { data: string }
declare const onRetry: (ms: number) => void
declare const onComment: (text: string) => void
declare const onId: (id: string) => void
declare const maxEventSize: number
declare function token(): string
declare function model(...args: unknown[]): AsyncIterable<string>
declare function llm(...args: unknown[]): AsyncIterable<string>
declare function render(x: unknown): void
declare function show(x: unknown): void
declare module 'openai' {
  const OpenAI: new () => any
  export default OpenAI
}
`
}

const IMPORT_LINE = /^import\s[^\n]*from\s+['"][^'"]+['"][^\n]*$/gm

/** The module text of each snippet: its code, or the file's earlier imports plus its code. */
function modules(snippets: Snippet[]): Map<string, string> {
  const out = new Map<string, string>()
  const importsOf = new Map<string, string[]>()
  snippets.forEach((s, i) => {
    const file = s.where.split(':')[0] as string
    const own = s.code.match(IMPORT_LINE) ?? []
    const earlier = importsOf.get(file) ?? []
    importsOf.set(file, [...earlier, ...own])
    const prefix = own.length === 0 ? earlier.join('\n') + '\n' : ''
    out.set(`snippet${i}.ts`, `${prefix}${s.code}\nexport {}\n`)
  })
  return out
}

/** `paths` for `sluice` and each subpath, to the src/ file its dist/ entry is built from. */
function sluicePaths(root: string): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { default?: string } | string>
  }
  const paths: Record<string, string[]> = {}
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const js = typeof target === 'string' ? target : target.default
    if (!js?.endsWith('.js')) continue
    const name = sub === '.' ? 'sluice' : `sluice/${sub.slice(2)}`
    paths[name] = [js.replace('./dist/', './src/').replace(/\.js$/, '.ts')]
  }
  return paths
}

/**
 * Type-check the snippets together (one program, each a module under dir, a
 * folder inside the repo so relative imports resolve as in a test file).
 * Returns one line per diagnostic, naming the snippet's doc and line.
 */
export function checkSnippets(root: string, dir: string, snippets: Snippet[]): string[] {
  const files = modules(snippets)
  const virtual = new Map<string, string>([
    [join(dir, 'placeholders.d.ts'), placeholders(relative(dir, join(root, 'src')))],
  ])
  const where = new Map<string, Snippet>()
  ;[...files].forEach(([name, text], i) => {
    virtual.set(join(dir, name), text)
    where.set(join(dir, name), snippets[i] as Snippet)
  })
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts', 'lib.dom.asynciterable.d.ts'],
    types: ['node'],
    strict: true,
    // Snippets pass callbacks to `app` (any) without annotating them, as readers do.
    noImplicitAny: false,
    skipLibCheck: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    baseUrl: root,
    paths: sluicePaths(root),
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile
  host.getSourceFile = (name, lang, onError) => {
    const text = virtual.get(name)
    if (text !== undefined) return ts.createSourceFile(name, text, lang, true)
    return getSourceFile.call(host, name, lang, onError)
  }
  const fileExists = host.fileExists
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name)
  const readFile = host.readFile
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name)
  const program = ts.createProgram([...virtual.keys()], options, host)
  const out: string[] = []
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const snippet = d.file ? where.get(d.file.fileName) : undefined
    if (!d.file || !snippet) {
      out.push(`${d.file ? relative(root, d.file.fileName) : '(program)'}: ${message}`)
      continue
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0)
    const lineText = d.file.text.split('\n')[line]?.trim()
    out.push(`${snippet.where} (snippet line ${line + 1}: ${lineText}): ${message}`)
  }
  return out
}
