/**
 * The guide's Java client idea (examples/java/HttpStreamClient.java: Java 17
 * HttpClient, POST JSON with Accept: text/event-stream), compiled with javac
 * and run against `sluice serve`: tokens arrive one by one, not buffered to
 * the end.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeExternal, requireBinary, start } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'

describeExternal(['javac', 'java'], "the guide's Java client", () => {
  let running: RunningApp
  let dir: string
  beforeAll(async () => {
    running = await serveApp()
    dir = await mkdtemp(join(tmpdir(), 'sluice-java-'))
  })
  afterAll(async () => {
    await running.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('sees the tokens arrive incrementally, the first well before the last', async () => {
    execFileSync(requireBinary('javac'), [
      '-d',
      dir,
      join(ROOT, 'examples/java/HttpStreamClient.java'),
    ])
    const t0 = performance.now()
    const proc = start(requireBinary('java'), [
      '-cp',
      dir,
      'HttpStreamClient',
      `${running.url}/chat?mode=chars&delay=100`,
      'Hello WOrld!',
    ])
    // When each line reached us (the client prints and flushes one line per event).
    const seenAt = new Map<string, number>()
    proc.proc.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) {
        if (line) seenAt.set(line, performance.now() - t0)
      }
    })
    const code = await new Promise<number | null>((resolve) => proc.proc.once('exit', resolve))
    expect(code, proc.output()).toBe(0)
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l !== '')
    expect(lines[0]).toBe('status 200 text/event-stream')
    const tokens = lines
      .map((l) => /^\+(\d+)ms token id=(\S*?)(\d+) (".*")$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
    expect(tokens.map((m) => JSON.parse(m[4])).join('')).toBe('Hello WOrld!')
    // Ids increase by one per token (`N`, or `<runId>-N` when the answer is a resumable run).
    const seq = tokens.map((m) => Number(m[3]))
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe(seq[i - 1] + 1)
    expect(lines.at(-2)).toMatch(/^\+\d+ms done id=\S* ".*\\"tokens\\":12.*"$/)
    expect(lines.at(-1)).toBe('end')
    // Java's own clock: the first token about a second before the last (12 x 100 ms).
    const firstMs = Number(tokens[0][1])
    const lastMs = Number(tokens.at(-1)![1])
    expect(lastMs - firstMs).toBeGreaterThan(700)
    // And ours: the lines reached this process one by one, not all at exit.
    const firstSeen = seenAt.get(tokens[0][0])!
    const lastSeen = seenAt.get(tokens.at(-1)![0])!
    expect(lastSeen - firstSeen).toBeGreaterThan(700)
  })
})
