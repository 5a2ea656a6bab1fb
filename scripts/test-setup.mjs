#!/usr/bin/env node
// `npm run test:setup`: installs, with apt-get, the Debian packages that the
// test suites need and this machine lacks (test/helpers/needs.json). Run as
// root (or through sudo). `--check` only lists what is missing (exit 1 if any).
//
// The guide's Java client needs async-http-client 2.12.3 and its jars, which
// Debian ships (libasync-http-client-java) but whose install pulls a broken
// dependency chain; they are downloaded with `apt-get download` and extracted
// into .cache/debian-java instead (no root needed for that part).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const needs = JSON.parse(readFileSync(new URL('../test/helpers/needs.json', import.meta.url), 'utf8'))

function onPath(name) {
  for (const d of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const dir of d.endsWith('/bin') ? [d, `${d.slice(0, -4)}/sbin`] : [d]) {
      if (existsSync(join(dir, name))) return true
    }
  }
  return false
}

const JAVA_DIR = fileURLToPath(new URL('../.cache/debian-java', import.meta.url))
// async-http-client 2.12.3, what it needs at run time, and lombok for the guide's @NoArgsConstructor.
const JAVA_DEBS = [
  'libasync-http-client-java',
  'libactivation-java',
  'libnetty-java',
  'libnetty-reactive-streams-java',
  'libreactive-streams-java',
  'libslf4j-java',
  'liblombok-java',
]

function met(need) {
  if (need === 'async-http-client') return existsSync(join(JAVA_DIR, 'usr/share/java/async-http-client.jar'))
  if (need !== 'python3-requests') return onPath(need)
  return spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0
}

function fetchJavaJars() {
  const debs = join(JAVA_DIR, 'debs')
  mkdirSync(debs, { recursive: true })
  console.log(`test:setup: apt-get download ${JAVA_DEBS.join(' ')} into ${JAVA_DIR}`)
  execFileSync('apt-get', ['download', ...JAVA_DEBS], { cwd: debs, stdio: 'inherit' })
  for (const f of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    execFileSync('dpkg', ['-x', join(debs, f), JAVA_DIR])
  }
}

const unmet = Object.keys(needs).filter((n) => !met(n))
const missing = [...new Set(unmet.filter((n) => n !== 'async-http-client').map((n) => needs[n]))]
const jars = unmet.includes('async-http-client')
if (jars && process.argv.includes('--check')) console.log('test:setup: missing the Java jars (async-http-client)')
if (missing.length === 0 && !jars) {
  console.log('test:setup: everything the tests need is installed')
  process.exit(0)
}
if (process.argv.includes('--check')) {
  if (missing.length > 0) console.log(`test:setup: missing ${missing.join(' ')}`)
  process.exit(1)
}
const root = process.getuid?.() === 0
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
const aptGet = (args) => {
  const [cmd, rest] = root ? ['apt-get', args] : ['sudo', ['apt-get', ...args]]
  execFileSync(cmd, rest, { stdio: 'inherit', env })
}
aptGet(['update', '-qq'])
if (missing.length > 0) {
  console.log(`test:setup: installing ${missing.join(' ')} with apt-get`)
  aptGet(['install', '-y', '-qq', ...missing])
}
if (jars) fetchJavaJars()
