/**
 * `sluice bench [--quick] [--variants a,b] [--scenarios x,y] ...`: the
 * fan-out benchmark (bench/fanout, see docs/benchmarks.md). It runs from a
 * source checkout, where the rival libraries it measures against are
 * installed as dev dependencies; the npm package ships neither.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root: this file is src/cli/bench.ts or dist/cli/bench.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function main(argv: string[]): Promise<number> {
  const harness = join(ROOT, 'bench', 'fanout', 'main.ts')
  if (!existsSync(harness)) {
    process.stderr.write(
      'sluice bench: the fan-out harness is not in this install (bench/ is not published to npm).\n' +
        'Run it from a source checkout: npm install && npm run bench:fanout -- --quick\n',
    )
    return 2
  }
  const child = spawn(process.execPath, ['--import', 'tsx', harness, ...argv], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  const stop = (signal: NodeJS.Signals) => () => child.kill(signal)
  const onInt = stop('SIGINT')
  const onTerm = stop('SIGTERM')
  process.once('SIGINT', onInt)
  process.once('SIGTERM', onTerm)
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`sluice bench: could not start the harness: ${err.message}\n`)
      resolve(1)
    })
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve(code ?? (signal ? 1 : 0))
    })
  })
}
