/**
 * The command line as a user first meets it: `sluice --version`, one help
 * format for every command, sluice's own messages for a mistyped command
 * line, and the exit statuses docs/cli.md promises (0 done, 1 failed,
 * 2 usage error, 130 interrupted).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listenLoopback } from '../helpers/http.js'
import { ROOT } from '../helpers/serve.js'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** At most this many sluice processes at once: each loads tsx, and the machine is shared. */
const PARALLEL = 3
let running = 0
const waiting: Array<() => void> = []

/** `sluice ...args`, bounded: anything still running after 60 s is killed. */
async function sluice(args: string[]): Promise<Run> {
  if (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await spawnSluice(args)
  } finally {
    running--
    waiting.shift()?.()
  }
}

function spawnSluice(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(kill)
      resolve({ code, stdout, stderr })
    }),
  )
}

const COMMANDS = ['serve', 'listen', 'publish', 'proxy', 'bench']
const VERSION = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')).version

describe('sluice, the command', { timeout: 120_000 }, () => {
  it('--version and -v print the package version', async () => {
    for (const flag of ['--version', '-v']) {
      expect(await sluice([flag])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
    }
  })

  // Before: `sluice` alone exited 1, `sluice foo` 2.
  it('alone: the usage on stderr, exit 2, as for an unknown command', async () => {
    const alone = await sluice([])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('Usage: sluice <command>')
    const foo = await sluice(['foo'])
    expect(foo.code).toBe(2)
    expect(foo.stderr).toMatch(/^sluice: unknown command 'foo'/)
    const help = await sluice(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: sluice <command>/)
  })

  // Before: proxy --help had no Usage line; bench --help said `npm run bench:fanout`.
  it('one help format: every --help starts with its Usage line, lists Options, ends with the exit statuses', async () => {
    const helps = await Promise.all(COMMANDS.map((c) => sluice([c, '--help'])))
    helps.forEach((h, i) => {
      const name = COMMANDS[i]
      expect(h.code, name).toBe(0)
      expect(h.stdout, name).toMatch(new RegExp(`^Usage: sluice ${name}( |$)`, 'm'))
      expect(h.stdout.startsWith(`Usage: sluice ${name}`), name).toBe(true)
      expect(h.stdout, name).toMatch(/\nOptions:\n/)
      expect(h.stdout, name).toContain(
        'Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted',
      )
      expect(h.stdout, name).not.toContain('npm run')
    })
  })

  // Before: Node's raw parseArgs text for listen, other wording elsewhere.
  it('an unknown option: a sluice message naming it, exit 2, for every command', async () => {
    const runs = await Promise.all(COMMANDS.map((c) => sluice([c, '--bogus'])))
    runs.forEach((r, i) => {
      const name = COMMANDS[i]
      expect(r.code, name).toBe(2)
      expect(r.stderr, name).toMatch(
        new RegExp(`^(sluice ${name}|bench): unknown option '--bogus'`),
      )
      expect(r.stderr, name).not.toMatch(/ERR_PARSE_ARGS|TypeError|at .*\.ts:\d+/)
    })
  })

  it('a flag value that looks like a flag is refused, for every command that takes one', async () => {
    const cases: Array<[string[], string]> = [
      [['serve', '--jwt-secret', '--anonymous'], '--jwt-secret'],
      [['serve', '--redis', '--history', '5'], '--redis'],
      [['serve', '--host', '--port', '0'], '--host'],
      [['serve', '--run-ttl', '--anonymous'], '--run-ttl'],
      [['listen', 'http://127.0.0.1:1/', '-H', '--json'], '-H'],
      [['publish', 'http://127.0.0.1:1', 't', 'd', '--token', '--event'], '--token'],
      [['proxy', '--target', '--quiet'], '--target'],
      [['bench', '--variants', '--quick'], '--variants'],
    ]
    const runs = await Promise.all(cases.map(([args]) => sluice(args)))
    runs.forEach((r, i) => {
      const [args, flag] = cases[i]
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toContain(`${flag} needs a value, but '`)
    })
  })

  // Before: `--port abc` blamed --host too; `proxy --target not-a-url` exited 1.
  it('a bad value blames its own flag only, exit 2', async () => {
    const servePort = await sluice(['serve', '--port', 'abc'])
    expect(servePort.code).toBe(2)
    expect(servePort.stderr).toMatch(/^sluice serve: --port needs a whole number, got 'abc'/)
    expect(servePort.stderr.split('\n')[0]).not.toContain('--host')
    const proxyPort = await sluice(['proxy', '--target', 'http://127.0.0.1:1', '--port', 'abc'])
    expect(proxyPort.code).toBe(2)
    expect(proxyPort.stderr).toMatch(/^sluice proxy: --port needs a whole number/)
    const target = await sluice(['proxy', '--target', 'not-a-url'])
    expect(target.code).toBe(2)
    expect(target.stderr).toMatch(/^sluice proxy: --target 'not-a-url' is not an absolute URL/)
    const maxEvents = await sluice(['listen', '--max-events', 'x', 'http://127.0.0.1:1/'])
    expect(maxEvents.code).toBe(2)
    expect(maxEvents.stderr).toMatch(/^sluice listen: --max-events needs a whole number/)
  })

  // Before: a raw ENOENT.
  it('serve --jwt-public-key with a missing file: a message naming the flag and the file', async () => {
    const r = await sluice(['serve', '--port', '0', '--jwt-public-key', '/missing.pem'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^sluice serve: cannot read the --jwt-public-key file '\/missing\.pem': no such file/,
    )
    expect(r.stderr).not.toContain('ENOENT')
  })

  // Before: `--jwt-secret "$UNSET"` started an open hub.
  it('serve --tls-cert and --tls-key: both or neither, and a missing file is named', async () => {
    const alone = await sluice(['serve', '--port', '0', '--tls-cert', '/missing.pem'])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toMatch(/^sluice serve: --tls-cert and --tls-key go together/)
    const missing = await sluice([
      ...['serve', '--port', '0', '--tls-cert', '/missing.pem', '--tls-key', '/missing.key'],
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(
      /^sluice serve: cannot read the --tls-cert file '\/missing\.pem': no such file/,
    )
  })

  it('serve --jwt-secret with an empty value (an unset variable) is refused', async () => {
    const r = await sluice(['serve', '--port', '0', '--jwt-secret', '', '--anonymous'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^sluice serve: --jwt-secret is empty/)
  })
})

describe('sluice publish to something that is not a hub', () => {
  let base: string
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"ok":true}')
  })
  beforeAll(async () => {
    base = `http://127.0.0.1:${(await listenLoopback(server)).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  // Before: it printed the body and exited 0.
  it('a 200 JSON answer without an id: exit 1 with a message', async () => {
    const r = await sluice(['publish', base, 'news', 'hello'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^sluice publish: .* without an event id, so it is not a sluice hub/)
  })
})
