#!/usr/bin/env node
// `npm run test:setup`: installs, with apt-get, the Debian packages that the
// test suites need and this machine lacks (test/helpers/needs.json). Run as
// root (or through sudo). `--check` only lists what is missing (exit 1 if any).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

const needs = JSON.parse(readFileSync(new URL('../test/helpers/needs.json', import.meta.url), 'utf8'))

function onPath(name) {
  for (const d of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const dir of d.endsWith('/bin') ? [d, `${d.slice(0, -4)}/sbin`] : [d]) {
      if (existsSync(join(dir, name))) return true
    }
  }
  return false
}

function met(need) {
  if (need !== 'python3-requests') return onPath(need)
  return spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0
}

const missing = [...new Set(Object.keys(needs).filter((n) => !met(n)).map((n) => needs[n]))]
if (missing.length === 0) {
  console.log('test:setup: everything the tests need is installed')
  process.exit(0)
}
if (process.argv.includes('--check')) {
  console.log(`test:setup: missing ${missing.join(' ')}`)
  process.exit(1)
}
const root = process.getuid?.() === 0
console.log(`test:setup: installing ${missing.join(' ')} with apt-get`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...missing]]) {
  const [cmd, rest] = root ? ['apt-get', args] : ['sudo', ['apt-get', ...args]]
  execFileSync(cmd, rest, { stdio: 'inherit', env })
}
