/**
 * Every shell command in README.md and docs/ that talks to `sluice serve`
 * (`curl` and `sluice listen|publish` at 127.0.0.1:8080-8082) runs against a
 * real one (issue 16), as a reader would paste it: the same text, with only
 * the port changed, `sluice` on PATH (a shim running src/cli/main.ts),
 * placeholders filled (`<id>`/`RUN`: a real run's id; `$TOKEN`, `$SECRET`:
 * a minted token and the server's secret). Commands that start servers
 * (`sluice serve|proxy`, `redis-server`, `npm ...`) are the server this test
 * provides, and are not run. A stream that never ends is read for a few seconds.
 */
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHub } from '../../src/hub/index.js'
import { describeExternal } from '../helpers/external.js'
import { ROOT, type RunningApp, serveApp } from '../helpers/serve.js'

const SECRET = 'a-long-enough-docs-secret-of-32-bytes!'

interface Command {
  where: string
  text: string
  /** Needs the keyed server ($TOKEN / $SECRET in its block). */
  keyed: boolean
}

/** The commands to run: lines of sh blocks that talk to a server on 127.0.0.1:808x. */
function commands(): Command[] {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)]
  const out: Command[] = []
  for (const file of files.filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    for (const m of text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
      const block = m[1]!.replace(/\\\n\s*/g, ' ')
      const keyed = /\$TOKEN|\$SECRET/.test(block)
      const first = text.slice(0, m.index).split('\n').length
      block.split('\n').forEach((line, i) => {
        const cmd = line.replace(/\s+#\s.*$/, '').trim()
        if (!/^(echo .*\| *)?(curl|sluice (listen|publish))\b/.test(cmd)) return
        if (!/127\.0\.0\.1:808\d/.test(cmd)) return
        out.push({ where: `${file}:${first + i + 1}`, text: cmd, keyed })
      })
    }
  }
  return out
}

function run(
  cmd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A stream that never ends (curl -N, sluice listen) is read for 4 s: 124 is timeout's status.
    execFile(
      'timeout',
      ['4', 'bash', '-c', cmd],
      { env: { ...process.env, ...env }, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr })
      },
    )
  })
}

describeExternal(['curl'], 'the docs’ shell commands against sluice serve', () => {
  let open: RunningApp
  let keyed: RunningApp
  const hubs = [createHub(), createHub({ auth: { secret: SECRET, anonymous: true } })]
  let bin: string
  let token: string

  beforeAll(async () => {
    open = await serveApp({ hub: hubs[0] })
    keyed = await serveApp({ hub: hubs[1] })
    bin = mkdtempSync(join(tmpdir(), 'sluice-docs-'))
    const shim = join(bin, 'sluice')
    writeFileSync(
      shim,
      `#!/bin/sh\nexec "${process.execPath}" --import tsx "${ROOT}/src/cli/main.ts" "$@"\n`,
    )
    chmodSync(shim, 0o755)
    token = await new SignJWT({ sluice: { publish: ['*'], subscribe: ['*'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET))
  })
  afterAll(async () => {
    await open?.close()
    await keyed?.close()
    if (bin) rmSync(bin, { recursive: true, force: true })
  })

  it('finds the commands (curl, sluice listen, sluice publish) in README.md and docs/', () => {
    const found = commands()
    expect(found.length).toBeGreaterThanOrEqual(10)
    expect(found.some((c) => c.text.startsWith('curl'))).toBe(true)
    expect(found.some((c) => c.text.startsWith('sluice listen'))).toBe(true)
    expect(found.some((c) => c.text.includes('sluice publish'))).toBe(true)
  })

  it('each one works against a running server', async () => {
    // A real run for the <id>/RUN placeholders, long enough to be live while they run.
    const started = await fetch(`${open.url}/chat?delay=50&tokens=400`, {
      method: 'POST',
      body: 'for the docs',
    })
    const runId = started.headers.get('sluice-run-id')!
    // Something on the topics the commands subscribe to, while they listen.
    const ticker = setInterval(() => {
      for (const hub of hubs) void hub.publish('news', 'tick').catch(() => {})
    }, 300)
    const failures: string[] = []
    for (const c of commands()) {
      const server = c.keyed ? keyed : open
      const port = new URL(server.url).port
      const text = c.text
        .replace(/127\.0\.0\.1:808\d/g, `127.0.0.1:${port}`)
        .replaceAll('<id>', runId)
        .replace(/\/chat\/RUN\b/g, `/chat/${runId}`)
      const { code, stdout, stderr } = await run(text, {
        PATH: `${bin}:${process.env.PATH}`,
        TOKEN: token,
        SECRET,
      })
      const ok = (code === 0 || code === 124) && stdout.trim() !== '' && !/"error":"/.test(stdout)
      if (!ok) failures.push(`${c.where}: ${c.text}\n  -> exit ${code}\n${stdout}${stderr}`)
    }
    clearInterval(ticker)
    await started.body?.cancel()
    expect(failures, failures.join('\n\n')).toEqual([])
  }, 120_000)
})
