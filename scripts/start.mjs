#!/usr/bin/env node
// `npm start`: `sluice serve` from dist/, rebuilt first only when a source is
// newer than the last build (dist/.build-stamp, written by `npm run build`;
// `npm install` builds through the `prepare` script). Prints the demo page's
// address and a first command to try once the server listens.
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const INPUTS = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json']

function newest(path) {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let max = 0
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)))
  return max
}

function built() {
  try {
    return statSync(join(root, 'dist/.build-stamp')).mtimeMs
  } catch {
    return 0
  }
}

const stamp = built()
const changed = Math.max(...INPUTS.map((p) => newest(join(root, p))))
if (changed > stamp) {
  console.log(stamp ? 'sluice: sources changed since the last build, building (npm run build)…' : 'sluice: first build (npm run build)…')
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
  if (b.status !== 0) process.exit(b.status ?? 1)
}

const child = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['inherit', 'pipe', 'inherit'],
})
let pending = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  pending += chunk
  const m = pending.match(/listening on (http:\/\/\S+)/)
  if (!m) return
  pending = ''
  child.stdout.removeAllListeners('data')
  child.stdout.pipe(process.stdout)
  const url = m[1].replace('//0.0.0.0:', '//127.0.0.1:')
  process.stdout.write(
    `\n  demo page:   ${url}/\n` +
      `  try:         curl -N '${url}/events?topic=demo'\n` +
      `  and publish: curl -X POST '${url}/publish' -H 'content-type: application/json' -d '{"topic":"demo","data":"hello"}'\n\n`,
  )
})
// Ctrl-C reaches the server too (same process group); wait for it to finish.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)))
