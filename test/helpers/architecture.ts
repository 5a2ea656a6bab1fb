/**
 * The shape of src/, checked from its syntax trees (TypeScript's compiler API):
 * the import graph (type-only imports and `import('…')` types included), its
 * cycles and layer rules, file lengths and function lengths. Used by
 * test/architecture.test.ts; docs/architecture.md states the rules.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

export interface SourceFile {
  /** Path relative to src/, e.g. `hub/hub.ts`. */
  path: string
  text: string
}

/** Every .ts file under `dir` (not .d.ts), with paths relative to it. */
export function readSources(dir: string): SourceFile[] {
  const out: SourceFile[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name)
      if (statSync(full).isDirectory()) walk(full)
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        out.push({ path: relative(dir, full), text: readFileSync(full, 'utf8') })
      }
    }
  }
  walk(dir)
  return out
}

function parse(file: SourceFile): ts.SourceFile {
  return ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
}

/** Module specifiers a file imports: declarations, re-exports, `import()` calls and types. */
export function specifiers(file: SourceFile): string[] {
  const out: string[] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) out.push(node.moduleSpecifier.text)
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) out.push(arg.literal.text)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(parse(file))
  return out
}

/** The src-relative file a relative specifier names (`./x.js` → `x.ts`), or null. */
function resolveLocal(from: string, spec: string, known: Set<string>): string | null {
  if (!spec.startsWith('.')) return null
  const base = join(dirname(from), spec).replace(/\.js$/, '')
  for (const candidate of [`${base}.ts`, `${base}/index.ts`]) {
    if (known.has(candidate)) return candidate
  }
  return null
}

/** file → the src files it imports. */
export function importGraph(files: SourceFile[]): Map<string, string[]> {
  const known = new Set(files.map((f) => f.path))
  const graph = new Map<string, string[]>()
  for (const f of files) {
    const deps = specifiers(f)
      .map((s) => resolveLocal(f.path, s, known))
      .filter((d): d is string => d !== null)
    graph.set(f.path, [...new Set(deps)])
  }
  return graph
}

/**
 * Each cycle: a strongly connected component of 2+ files (or a file importing
 * itself), as its files in sort order joined by ` <-> `.
 */
export function cycles(graph: Map<string, string[]>): string[] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[] = []
  const strong = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) !== idx.get(v)) return
    const scc: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      scc.push(w)
    } while (w !== v)
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort().join(' <-> '))
  }
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v)
  return out.sort()
}

/** Files longer than `max` lines, as `path (N lines)`. */
export function longFiles(files: SourceFile[], max: number): string[] {
  return files
    .map((f) => ({
      path: f.path,
      lines: f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0),
    }))
    .filter((f) => f.lines > max)
    .map((f) => `${f.path} (${f.lines} lines)`)
}

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node }
  if (named.name && (ts.isIdentifier(named.name) || ts.isPrivateIdentifier(named.name))) {
    const own = named.name.text
    const cls = node.parent && ts.isClassLike(node.parent) && node.parent.name
    return cls ? `${cls.text}.${own}` : own
  }
  if (ts.isConstructorDeclaration(node)) {
    const cls = node.parent && ts.isClassLike(node.parent) && node.parent.name
    return `${cls ? cls.text : '<class>'}.constructor`
  }
  const parent = node.parent
  if (
    parent &&
    (ts.isVariableDeclaration(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent))
  ) {
    if (ts.isIdentifier(parent.name)) return parent.name.text
  }
  return '<anonymous>'
}

/** Functions longer than `max` lines, as `path:name (N lines)`. */
export function longFunctions(files: SourceFile[], max: number): string[] {
  const out: string[] = []
  for (const f of files) {
    const sf = parse(f)
    const visit = (node: ts.Node): void => {
      if (
        ts.isFunctionDeclaration(node) ||
        ts.isMethodDeclaration(node) ||
        ts.isFunctionExpression(node) ||
        ts.isArrowFunction(node) ||
        ts.isGetAccessorDeclaration(node) ||
        ts.isSetAccessorDeclaration(node) ||
        ts.isConstructorDeclaration(node)
      ) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line
        const lines = end - start + 1
        if (lines > max) out.push(`${f.path}:${functionName(node)} (${lines} lines)`)
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
  }
  return out
}

/**
 * Which top-level folders of src/ each folder may import (itself always).
 * A file directly in src/ (the root entry) is the folder `.`.
 */
export const LAYERS: Record<string, string[]> = {
  protocol: [],
  server: ['protocol'],
  client: ['protocol'],
  hub: ['protocol', 'server'],
  runs: ['protocol', 'server', 'hub'],
  integrations: ['protocol', 'client'],
  app: ['protocol', 'client', 'integrations'],
  cli: ['protocol', 'server', 'client', 'hub', 'runs', 'integrations'],
  '.': ['protocol', 'server', 'client', 'hub', 'runs', 'integrations'],
}

const folderOf = (path: string): string => (path.includes('/') ? path.split('/')[0]! : '.')

/** Imports that cross the layers, as `from.ts -> to.ts (folder may not import folder)`. */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const out: string[] = []
  for (const [from, deps] of graph) {
    const a = folderOf(from)
    for (const to of deps) {
      const b = folderOf(to)
      if (a === b) continue
      const allowed = LAYERS[a]
      if (!allowed?.includes(b)) out.push(`${from} -> ${to} (${a}/ may not import ${b}/)`)
    }
  }
  return out.sort()
}

const key = (finding: string): string => finding.replace(/ \(\d+ lines\)$/, '')

/**
 * Findings not excused (`new`), and excuses that no longer find anything
 * (`stale`): an excuse names a finding without its `(N lines)`.
 */
export function judge(findings: string[], excused: string[]): { new: string[]; stale: string[] } {
  const keys = findings.map(key)
  return {
    new: findings.filter((f) => !excused.includes(key(f))),
    stale: excused.filter((e) => !keys.includes(e)),
  }
}

export const SRC = resolve(dirname(new URL(import.meta.url).pathname), '../../src')
