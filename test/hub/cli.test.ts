/**
 * The CLI side of the hub: `sluice serve` says whether the hub is open, and
 * `sluice publish URL TOPIC DATA [--event E] [--token T]` posts an event and
 * prints its id (or the hub's error, with a non-zero exit).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, exportSPKI, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, type SluiceProcess, startSluice } from '../helpers/serve.js'
import { openSse } from '../helpers/sse.js'
import { waitUntil } from '../helpers/wait.js'

const run = promisify(execFile)
const SECRET = 'cli-secret-cli-secret-cli-secret-00'

async function publishCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'publish', ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
    )
    return { code: 0, stdout, stderr }
  } catch (err: any) {
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

// Liveness bounds: each case starts several tsx processes, slow on a loaded two-core machine.
describe('sluice serve + sluice publish', { timeout: 90_000 }, () => {
  let open: SluiceProcess
  let locked: SluiceProcess
  beforeAll(async () => {
    ;[open, locked] = await Promise.all([
      startSluice('serve', []),
      startSluice('serve', ['--jwt-secret', SECRET, '--anonymous']),
    ])
  })
  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop()])
  })

  it('says at start-up whether the hub is open', async () => {
    // The banner is written just after the port opens; its last line says open or locked.
    const bannerDone = (n: SluiceProcess) => () => /hub: (OPEN|JWT required)/.test(n.proc.output())
    await waitUntil(bannerDone(open), 5000, "the open node's banner")
    await waitUntil(bannerDone(locked), 5000, "the locked node's banner")
    expect(open.proc.output()).toMatch(/hub: OPEN/)
    expect(locked.proc.output()).toMatch(/JWT required to publish/)
    expect(locked.proc.output()).not.toMatch(/OPEN/)
  })

  it('publishes, prints the id, and the subscriber sees it', async () => {
    const sub = await openSse(`${open.url}/events?topic=cli`)
    const r = await publishCli([open.url, 'cli', 'from the shell', '--event', 'note'])
    expect(r.code).toBe(0)
    const id = r.stdout.trim()
    expect(id).toMatch(/^[0-9a-z]+-\d+$/)
    await sub.waitFor((ev) => ev.length === 1)
    expect(sub.events[0]).toMatchObject({ id, event: 'note', data: 'from the shell' })
    sub.close()
  })

  it('needs a token on a locked hub, and reports the refusal', async () => {
    const refused = await publishCli([locked.url + '/publish', 'cli', 'x'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/401 UNAUTHORIZED/)
    const token = await new SignJWT({ sluice: { publish: ['cli'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET))
    const ok = await publishCli([locked.url, 'cli', 'x', '--token', token])
    expect(ok.code).toBe(0)
    const wrongTopic = await publishCli([locked.url, 'other', 'x', '--token', token])
    expect(wrongTopic.stderr).toMatch(/403 FORBIDDEN/)
  })
})

describe("docs/cli.md's token command", () => {
  it('mints a token that sluice publish sends from SLUICE_TOKEN to a hub on --jwt-secret', async () => {
    const doc = await readFile(join(ROOT, 'docs/cli.md'), 'utf8')
    const command = /\$\((node --input-type=module -e "[\s\S]*?")\)/.exec(doc)?.[1]
    expect(command, 'the $(node ... -e "...") block of docs/cli.md').toBeDefined()
    const minted = await run('sh', ['-c', command!.replace(/^node /, `'${process.execPath}' `)], {
      cwd: ROOT,
      env: { ...process.env, JWT_SECRET: SECRET },
    })
    const token = minted.stdout.trim()
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const node = await startSluice('serve', ['--jwt-secret', SECRET])
    try {
      const ok = await publishCli([node.url, 'orders/42', 'shipped'], { SLUICE_TOKEN: token })
      expect(ok).toMatchObject({ code: 0, stderr: '' })
      const none = await publishCli([node.url, 'orders/42', 'shipped'], { SLUICE_TOKEN: '' })
      expect(none.code).toBe(1)
    } finally {
      await node.stop()
    }
  }, 90_000)
})

describe('sluice serve --jwt-public-key FILE', () => {
  it('verifies ES256 tokens with the key from the file, and refuses a bad key file at start-up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-key-'))
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const keyFile = join(dir, 'public.pem')
    await writeFile(keyFile, await exportSPKI(publicKey))
    const node = await startSluice('serve', ['--jwt-public-key', keyFile])
    try {
      const token = await new SignJWT({ sluice: { publish: ['signed/*'] } })
        .setProtectedHeader({ alg: 'ES256' })
        .setExpirationTime('5m')
        .sign(privateKey)
      const ok = await publishCli([node.url, 'signed/1', 'x', '--token', token])
      expect(ok.code).toBe(0)
      const hs = await new SignJWT({ sluice: { publish: ['*'] } })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode('not-the-key-not-the-key-not-the-k'))
      const refused = await publishCli([node.url, 'signed/1', 'x', '--token', hs])
      expect(refused.stderr).toMatch(/401 UNAUTHORIZED/)
    } finally {
      await node.stop()
    }
    const badFile = join(dir, 'bad.pem')
    await writeFile(badFile, 'not a key')
    const bad = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--jwt-public-key', badFile],
      { cwd: ROOT },
    ).catch((e) => e)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/not a PEM SPKI key/)
    await rm(dir, { recursive: true, force: true })
  }, 90_000)
})
