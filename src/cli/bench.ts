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
import { EXIT_STATUS } from './args.js'

/** The package root: this file is src/cli/bench.ts or dist/cli/bench.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export const HELP = `Usage: sluice bench [options]

The fan-out benchmark: sluice's hub against other SSE servers, for
throughput, latency and idle memory (see docs/benchmarks.md). It runs from a
source checkout (git clone, npm install), where the rival libraries are
installed as dev dependencies; the npm package ships neither.

Options:
  --quick               small numbers (a couple of minutes in all)
  -h, --help            this help, with every option when run in a checkout

${EXIT_STATUS}`

export async function main(argv: string[]): Promise<number> {
  const harness = join(ROOT, 'bench', 'fanout', 'main.ts')
  const help = argv.includes('--help') || argv.includes('-h')
  if (!existsSync(harness)) {
    if (help) {
      process.stdout.write(HELP + '\n')
      return 0
    }
    process.stderr.write(
      'sluice bench: the fan-out harness is not in this install (bench/ is not published to npm).\n' +
        'Run it from a source checkout: git clone, npm install, then node dist/cli/main.js bench --quick\n',
    )
    return 1
  }
  const child = spawn(process.execPath, ['--import', 'tsx', harness, ...argv], {
    cwd: ROOT,
    stdio: 'inherit',
    // The harness's help and messages name the command that ran it.
    env: { ...process.env, SLUICE_BENCH_COMMAND: 'sluice bench' },
  })
  let interrupted = false
  const onInt = () => {
    interrupted = true
    child.kill('SIGINT')
  }
  const onTerm = () => child.kill('SIGTERM')
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
      if (interrupted || signal === 'SIGINT') resolve(130)
      else resolve(code ?? (signal ? 1 : 0))
    })
  })
}
