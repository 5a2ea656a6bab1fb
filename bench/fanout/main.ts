/**
 * `npm run bench:fanout -- [--quick] [--variants a,b] [--scenarios x,y]
 *   [--rounds N] [--latency-specs i,j] [--pin on|off]
 *   [--conns N] [--msgs M] [--out DIR] [--svg FILE]`
 *
 * Runs the fan-out harness, prints a table and ratios against the rivals from
 * the same run, writes JSON results and an SVG chart.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import {
  defaultPinning,
  FULL,
  QUICK,
  ROOT,
  runBench,
  SCENARIOS,
  type RunOptions,
  type Scale,
  type ScenarioName,
  VARIANTS,
} from './harness.js'
import { machine } from './proc.js'
import { type Report, renderSvg, renderTable } from './report.js'

/** `sluice bench` runs this with SLUICE_BENCH_COMMAND set, so its help names that command. */
const COMMAND = process.env.SLUICE_BENCH_COMMAND ?? 'npm run bench:fanout --'

const USAGE = `Usage: ${COMMAND} [options]

The fan-out benchmark: sluice's hub against other SSE servers (docs/benchmarks.md).

Options:
  --quick               small numbers (a couple of minutes in all)
  --variants a,b        ${VARIANTS.map((v) => v.name).join(', ')}
  --scenarios x,y       ${SCENARIOS.join(', ')}
  --rounds N            latency rounds, variants interleaved (default 3; --quick 2)
  --latency-specs i,j   which latency specs to run, by index (default all: 0 = 1,000 x 20/s, 1 = 100 x 100/s)
  --pin on|off          servers on CPU 0, load processes on CPU 1 with taskset (default off: on a
                        shared machine it made p99 worse, see docs/benchmarks.md)
  --conns N             connections for the throughput scenario
  --msgs M              messages for the throughput scenario
  --idle-conns N        connections for the idle-memory scenario
  --out DIR             where results.json goes (default bench/fanout/results)
  --svg FILE            where the chart goes (default docs/img/fanout.svg; 'none' to skip)
  -h, --help            this help

Exit status: 0 done, 1 failed, 2 usage error, 130 interrupted (Ctrl-C).
`

/** Message prefix: `sluice bench` when run by it, `bench` from npm run. */
const PREFIX = process.env.SLUICE_BENCH_COMMAND ?? 'bench'

/** The options that take a value (`--quick` and `--help` take none). */
const VALUE_OPTIONS = ['conns', 'msgs', 'idle-conns', 'rounds', 'latency-specs', 'pin']
VALUE_OPTIONS.push('variants', 'scenarios', 'out', 'svg')

/** `--name value` pairs and `--quick`; 'help'; or a usage message. */
function readArgs(argv: string[]): Map<string, string> | 'help' | { usage: string } {
  const args = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') return 'help'
    if (a === '--quick') {
      args.set('quick', '1')
      continue
    }
    if (!a.startsWith('--')) return { usage: `unknown argument '${a}'` }
    if (!VALUE_OPTIONS.includes(a.slice(2))) return { usage: `unknown option '${a}'` }
    const next = argv[i + 1]
    // `--variants --quick`: a value that looks like a flag is refused, not taken;
    // a negative number is a value (`--msgs -3` is refused as a count below).
    if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) {
      return { usage: `${a} needs a value${next ? `, but '${next}' follows it` : ''}` }
    }
    args.set(a.slice(2), next)
    i++
  }
  return args
}

/** Why the options cannot run (a line for stderr). */
interface Refusal {
  refused: string
}

/** The scale the options ask for (--quick, the counts, --latency-specs), or why not. */
function scaleOf(args: Map<string, string>): Scale | Refusal {
  // A count that is not a whole number >= 1 is refused, not run as NaN or a default.
  const counts: Record<string, number> = {}
  for (const key of ['conns', 'msgs', 'idle-conns', 'rounds']) {
    if (!args.has(key)) continue
    const n = Number(args.get(key))
    if (!Number.isInteger(n) || n < 1) {
      return { refused: `--${key} takes a whole number >= 1, not '${args.get(key)}'` }
    }
    counts[key] = n
  }
  const base = args.has('quick') ? QUICK : FULL
  const scale: Scale = structuredClone(base)
  if (counts.conns !== undefined) scale.throughput.conns = counts.conns
  if (counts.msgs !== undefined) scale.throughput.msgs = counts.msgs
  if (counts['idle-conns'] !== undefined) scale.idle.conns = counts['idle-conns']
  if (counts.rounds !== undefined) scale.rounds = counts.rounds
  if (args.has('latency-specs')) {
    const text = args.get('latency-specs')!
    const keep = text.split(',').map((x) => Number(x.trim()))
    if (keep.some((i) => !Number.isInteger(i) || i < 0 || i >= scale.latency.length)) {
      return {
        refused: `--latency-specs takes indices 0-${scale.latency.length - 1} separated by commas, not '${text}'`,
      }
    }
    scale.latency = scale.latency.filter((_, i) => keep.includes(i))
  }
  return scale
}

/** The items of `list` named by option `key` (all if absent), or why not. */
function pick<T extends { name: string } | string>(
  args: Map<string, string>,
  list: T[],
  key: string,
): T[] | Refusal {
  const want = args.get(key)
  if (!want) return list
  const names = want.split(',').map((s) => s.trim())
  const nameOf = (x: T) => (typeof x === 'string' ? x : x.name)
  const unknown = names.filter((n) => !list.some((x) => nameOf(x) === n))
  if (unknown.length)
    return {
      refused: `unknown ${key}: ${unknown.join(', ')}; choose from ${list.map(nameOf).join(', ')}`,
    }
  return list.filter((x) => names.includes(nameOf(x)))
}

/** What one run needs from the options, or why they cannot run. */
function runOptions(args: Map<string, string>): RunOptions | Refusal {
  const scale = scaleOf(args)
  if ('refused' in scale) return scale
  const pinArg = args.get('pin') ?? 'off'
  if (pinArg !== 'on' && pinArg !== 'off') return { refused: '--pin takes on or off' }
  const pin = pinArg === 'on' ? defaultPinning() : null
  const variants = pick(args, VARIANTS, 'variants')
  const scenarios = pick(args, SCENARIOS, 'scenarios')
  if ('refused' in variants) return variants
  if ('refused' in scenarios) return scenarios
  return { variants, scenarios: scenarios as ScenarioName[], scale, pin }
}

/** The results as JSON (formatted as the repo's formatter writes it) and the chart, unless --svg none. */
function writeResults(report: Report, args: Map<string, string>): void {
  const outDir = resolve(args.get('out') ?? join(ROOT, 'bench', 'fanout', 'results'))
  mkdirSync(outDir, { recursive: true })
  const jsonPath = join(outDir, args.has('quick') ? 'results-quick.json' : 'results.json')
  writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n')
  // bench/ is linted: leave the file as the repo's formatter writes JSON.
  try {
    const biome = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome')
    execFileSync(process.execPath, [biome, 'format', '--write', jsonPath], { stdio: 'ignore' })
  } catch {
    // Formatting is cosmetic; the results are written either way.
  }
  process.stdout.write(`\nresults: ${jsonPath}\n`)
  const svg = args.get('svg') ?? join(ROOT, 'docs', 'img', 'fanout.svg')
  if (svg !== 'none') {
    mkdirSync(dirname(resolve(svg)), { recursive: true })
    writeFileSync(resolve(svg), renderSvg(report))
    process.stdout.write(`chart:   ${resolve(svg)}\n`)
  }
}

export async function main(argv: string[]): Promise<number> {
  // `shards`: the sharded store's publish rate through 1, 2 and 3 Redis (./shards.ts).
  if (argv[0] === 'shards') return (await import('./shards.js')).shardsMain(argv.slice(1))
  const args = readArgs(argv)
  if (args === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  if (!(args instanceof Map)) {
    process.stderr.write(`${PREFIX}: ${args.usage}\n\n${USAGE}`)
    return 2
  }
  const opts = runOptions(args)
  if ('refused' in opts) {
    process.stderr.write(`${PREFIX}: ${opts.refused}\n`)
    return 2
  }
  const started = Date.now()
  const results = await runBench({
    ...opts,
    log: (line) =>
      process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`),
  })
  const report = {
    ...results,
    machine: machine(),
    command: `npm run bench:fanout -- ${argv.join(' ')}`.trim(),
  }
  process.stdout.write(renderTable(report) + '\n')
  writeResults(report, args)
  return results.results.some((r) => r.errors.some((e) => !e.startsWith('not built yet'))) ? 1 : 0
}

if (
  import.meta.url === `file://${process.argv[1]}` ||
  process.argv[1]?.endsWith('bench/fanout/main.ts')
) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      process.stderr.write(
        `${PREFIX}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      )
      process.exitCode = 1
    },
  )
}
