/**
 * `share` costs a page that does not use it almost nothing: its module
 * (src/client/share.ts) is loaded by a dynamic import, so a bundler that
 * splits puts it in a chunk of its own, and what stays in fetchEventSource's
 * bundle for it (src/client/open.ts and a hook in the engine) is small.
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

it('fetchEventSource without share does not carry the share module', async () => {
  const result = await build({
    stdin: {
      contents: `export { fetchEventSource } from './src/client/index.js'`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    splitting: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    outdir: '/nowhere',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const outputs = result.metafile.outputs
  const entry = Object.keys(outputs).find((name) => outputs[name]!.entryPoint === '<stdin>')!
  // Everything the page loads up front: the entry and the chunks it imports statically.
  const eager = [entry]
  for (const name of eager)
    for (const i of outputs[name]!.imports)
      if (i.kind === 'import-statement' && !eager.includes(i.path)) eager.push(i.path)
  const share = Object.keys(outputs).filter((name) =>
    Object.keys(outputs[name]!.inputs).includes('src/client/share.ts'),
  )
  expect(share).toHaveLength(1) // a chunk of its own, loaded on demand
  expect(eager).not.toContain(share[0])
  const shareBytes = outputs[share[0]!]!.bytes
  const openBytes = eager
    .map((name) => outputs[name]!.inputs['src/client/open.ts']?.bytesInOutput ?? 0)
    .reduce((a, b) => a + b, 0)
  expect(openBytes).toBeGreaterThan(0)
  expect(openBytes).toBeLessThan(1024)
  console.info(
    `[bundle] share chunk ${shareBytes} B minified; open.ts in the eager bundle ${openBytes} B`,
  )
})
