/**
 * Real parts, never mocks: tests start real programs (redis-server, nginx,
 * chromium, python3 with requests, javac) on free loopback ports.
 *
 * A suite that needs one is declared with `describeExternal`. When a program
 * is missing, the suite is skipped and recorded, and `npm test` ends with one
 * summary line naming the skipped suites and the command that installs what
 * they need (test/global-setup.ts). With SLUICE_STRICT=1 (what `.ci/run`
 * sets) a missing program fails its suite instead: CI never skips.
 * SLUICE_SKIP_EXTERNAL=1 skips every such suite, installed or not.
 */
import { execFileSync } from 'node:child_process'
import { appendFileSync, existsSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe } from 'vitest'
import NEEDS from './needs.json' with { type: 'json' }

export const SKIP_EXTERNAL = process.env.SLUICE_SKIP_EXTERNAL === '1'
export const STRICT = process.env.SLUICE_STRICT === '1'

/**
 * What a suite can need, each with the Debian package that brings it: a
 * program, or `python3-requests` (a python3 that can `import requests`).
 * One list for the tests, `npm run test:setup` and `.ci/run`.
 */
export const DEBIAN_PACKAGE = NEEDS
export type Need = keyof typeof NEEDS

/**
 * Absolute path of a program on PATH, or null. A PATH entry `…/bin` is also
 * looked at as `…/sbin` (nginx lives in /usr/sbin, which a user's PATH often
 * lacks); nothing outside PATH is searched, so hiding a program from PATH
 * hides it from the tests.
 */
export function findBinary(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  const withSbin = dirs.flatMap((d) => (d.endsWith('/bin') ? [d, `${d.slice(0, -4)}/sbin`] : [d]))
  for (const dir of withSbin) {
    const path = join(dir, name)
    if (existsSync(path)) return path
  }
  return null
}

const found = new Map<Need, boolean>()

/** Whether a need is met on this machine (probed once per worker). */
export function has(need: Need): boolean {
  let ok = found.get(need)
  if (ok === undefined) {
    ok = probe(need)
    found.set(need, ok)
  }
  return ok
}

/**
 * The folder of the Debian jars the guide's Java client builds with
 * (async-http-client 2.12.3, netty, lombok...): extracted by `npm run
 * test:setup` into .cache/debian-java, or installed system-wide. Null if neither.
 */
export function javaJarDir(): string | null {
  for (const dir of [join(ROOT, '.cache/debian-java/usr/share/java'), '/usr/share/java']) {
    if (existsSync(join(dir, 'async-http-client.jar'))) return dir
  }
  return null
}

function probe(need: Need): boolean {
  if (need === 'async-http-client') return javaJarDir() !== null
  if (need !== 'python3-requests') return findBinary(need) !== null
  const python = findBinary('python3')
  if (!python) return false
  try {
    execFileSync(python, ['-c', 'import requests'], { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function installHint(needs: Need[]): string {
  const apt = needs.filter((n) => n !== 'async-http-client')
  const pkgs = [...new Set(apt.map((n) => DEBIAN_PACKAGE[n]))].join(' ')
  if (pkgs === '') return 'npm run test:setup'
  return `apt-get install -y ${pkgs} (or npm run test:setup)`
}

/** The program's path; throws with the install command when it is missing. */
export function requireBinary(name: Need): string {
  const path = findBinary(name)
  if (path) return path
  throw new Error(
    `${name} is not installed; this test needs the real one. Install it with: ${installHint([name])}`,
  )
}

/** Where skipped suites are recorded for the summary line (set by test/global-setup.ts). */
function recordSkip(name: string, missing: Need[]): void {
  const log = process.env.SLUICE_SKIP_LOG
  if (!log) return
  // The calling test file, from the stack (describe runs while the file is collected).
  const frame = new Error().stack?.match(/(?:file:\/\/)?(\/[^\s():]+\.test\.ts)/)
  const file = frame ? relative(process.cwd(), frame[1] as string) : ''
  const line = JSON.stringify({ suite: name, file, missing })
  appendFileSync(log, `${line}\n`)
}

/**
 * `describe` for a suite that needs external programs. All there: it runs.
 * Some missing: skipped and recorded for the summary line, or, under
 * SLUICE_STRICT=1, a failing suite that names the install command.
 */
export function describeExternal(needs: Need[], name: string, fn: () => void): void {
  if (SKIP_EXTERNAL) {
    describe.skip(name, fn)
    return
  }
  const missing = needs.filter((n) => !has(n))
  if (missing.length === 0) {
    describe(name, fn)
  } else if (STRICT) {
    describe(name, () => {
      throw new Error(
        `SLUICE_STRICT=1 and ${missing.join(', ')} missing; install with: ${installHint(missing)}`,
      )
    })
  } else {
    recordSkip(name, missing)
    describe.skip(name, fn)
  }
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
