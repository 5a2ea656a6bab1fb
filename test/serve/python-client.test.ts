/**
 * The guide's Python client (examples/python/stream_client.py, verbatim but
 * for the URL) against `sluice serve`: it prints every streamed character,
 * then its end marker.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal, requireBinary, start } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'

describeExternal(['python3-requests'], "the guide's Python client", () => {
  let running: RunningApp
  let dir: string
  beforeAll(async () => {
    running = await serveApp()
    dir = await mkdtemp(join(tmpdir(), 'sluice-python-'))
  })
  afterAll(async () => {
    await running.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('prints every streamed character, then 结束标识', async () => {
    const python = requireBinary('python3')
    const source = await readFile(join(ROOT, 'examples/python/stream_client.py'), 'utf8')
    expect(source).toContain('"http://127.0.0.1:8080/chat?format=envelope&mode=chars&delay=100"')
    // The only change for the test: the port of this test's server.
    const script = join(dir, 'stream_client.py')
    await writeFile(script, source.replace('127.0.0.1:8080', `127.0.0.1:${running.port}`))
    const proc = start(python, [script], {
      env: { PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
    })
    const code = await new Promise<number | null>((resolve) => proc.proc.once('exit', resolve))
    expect(code).toBe(0)
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l !== '')
    expect(lines).toEqual([...'Hello World!', '结束标识'])
  })
})
