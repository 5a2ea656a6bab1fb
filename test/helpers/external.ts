/**
 * Real parts, never mocks: tests start real binaries (redis-server, nginx,
 * chromium, python3, javac) on free loopback ports. A missing binary fails the
 * test with the command that installs it, unless SLUICE_SKIP_EXTERNAL=1 (CI
 * never sets it).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { describe } from 'vitest'

export const SKIP_EXTERNAL = process.env.SLUICE_SKIP_EXTERNAL === '1'

const INSTALL: Record<string, string> = {
  'redis-server': 'apt-get install -y redis-server',
  nginx: 'apt-get install -y nginx',
  chromium: 'apt-get install -y chromium',
  python3: 'apt-get install -y python3 python3-requests',
  java: 'apt-get install -y openjdk-17-jdk-headless',
  javac: 'apt-get install -y openjdk-17-jdk-headless',
  curl: 'apt-get install -y curl',
  // util-linux's `script` ships in Debian's bsdutils package, not in a package named `script`.
  script: 'apt-get install -y bsdutils',
}

/** Absolute path of a binary on PATH (or in /usr/sbin, /usr/bin), or null. */
export function findBinary(name: string): string | null {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`
  }
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null
  } catch {
    return null
  }
}

/** The binary's path; throws with the install command when it is missing. */
export function requireBinary(name: string): string {
  const path = findBinary(name)
  if (path) return path
  throw new Error(
    `${name} is not installed; this test needs the real one. Install it with: ${INSTALL[name] ?? `apt-get install -y ${name}`}` +
      ' (or set SLUICE_SKIP_EXTERNAL=1 to skip tests that need external binaries).',
  )
}

/**
 * `describe` for a suite that needs external binaries: skipped only when
 * SLUICE_SKIP_EXTERNAL=1; otherwise a missing binary fails the suite loudly.
 */
export function describeExternal(binaries: string[], name: string, fn: () => void): void {
  describe.skipIf(SKIP_EXTERNAL)(name, () => {
    for (const b of binaries) requireBinary(b)
    fn()
  })
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Resolves when something accepts TCP connections on the port. */
export async function waitForPort(
  port: number,
  timeoutMs = 10_000,
  host = '127.0.0.1',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host)
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline)
      throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export { start, type Started } from './process.js'
