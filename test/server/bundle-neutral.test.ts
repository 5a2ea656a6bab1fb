/**
 * The Web half of sluice bundles for any runtime: an app importing
 * `sluice/parser`, `sluice/client` and `sluice/server`'s Web emitter builds
 * with esbuild `--bundle --platform=neutral` (no Node built-ins to resolve),
 * and the output imports no `node:` module (Workers, browsers, Deno, Bun).
 * So does `sluice/hub` with the memory store (test/runtimes/workerd.test.ts
 * runs it in workerd).
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function bundle(contents: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) }
}

const NODE_IMPORT = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']node:[^"']+["']/

describe('a neutral bundle of the Web parts', () => {
  it('parser, client and the Web emitter, from their entry points: no node: import', async () => {
    const { code, inputs } = await bundle(`
      export { createParser } from './src/protocol/index.ts'
      export { fetchEventSource, events, EventSource } from './src/client/index.ts'
      export { eventStreamResponse, createWebEventStream } from './src/server/index.ts'
    `)
    expect(inputs.some((i) => i.startsWith('src/server/'))).toBe(true)
    expect(inputs.filter((i) => i.startsWith('node:'))).toEqual([])
    expect(code.match(NODE_IMPORT)?.[0]).toBeUndefined()
    expect(code).toContain('text/event-stream')
  })

  it('the same through the package names (sluice/parser, sluice/client, sluice/server): no node: import', async () => {
    // Resolved by tsconfig.json's paths to src/, as the package's exports map them to dist/.
    const { code, inputs } = await bundle(`
      import { createParser } from 'sluice/parser'
      import { EventSource, events, fetchEventSource } from 'sluice/client'
      import { eventStreamResponse } from 'sluice/server'
      export default { createParser, EventSource, events, fetchEventSource, eventStreamResponse }
    `)
    expect(inputs).toContain('src/server/web.ts')
    expect(inputs.filter((i) => i.startsWith('node:'))).toEqual([])
    expect(code.match(NODE_IMPORT)?.[0]).toBeUndefined()
  })

  it('sluice/hub with the memory store and its Web handler: no node: import either', async () => {
    const { code, inputs } = await bundle(`
      import { createHub, memoryStore } from 'sluice/hub'
      export default (r) => createHub({ store: memoryStore() }).handler()(r)
    `)
    expect(inputs).toContain('src/hub/memory-store.ts')
    expect(inputs.filter((i) => i.startsWith('node:'))).toEqual([])
    expect(code.match(NODE_IMPORT)?.[0]).toBeUndefined()
  })

  it('a runtime node: import would fail that build (what the first test guards against)', async () => {
    await expect(
      bundle(`import { createServer } from 'node:http'\nexport const s = createServer`),
    ).rejects.toThrow(/node:http/)
    // A type-only import is erased and fine, as in src/server/node.ts.
    await expect(
      bundle(`import type { Server } from 'node:http'\nexport const s: Server | null = null`),
    ).resolves.toBeDefined()
  })
})
