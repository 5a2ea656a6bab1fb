#!/usr/bin/env node
/**
 * `sluice serve|listen|publish|proxy|bench`. Each command lives in its own
 * module and is loaded on demand, so `sluice listen` does not load the hub.
 *
 * Exit status, for every command (docs/cli.md): 0 done, 1 failed, 2 usage
 * error, 130 interrupted (SIGINT). A command returns its status, or throws:
 * a `UsageError` is 2 (the message and the command's usage lines), anything
 * else 1 (the message).
 */
import { readFileSync } from 'node:fs'
import { EXIT_STATUS, UsageError } from './args.js'
import { redact } from './redact.js'

const USAGE = `Usage: sluice <command> [options]

Server-Sent Events for TypeScript, both ends.

Commands:
  serve     the hub, chat runs and demo page (default http://127.0.0.1:8080)
  listen    URL: print an event stream as it arrives (an SSE-aware curl)
  publish   URL TOPIC DATA: publish one event to a hub
  proxy     --target URL: a dev reverse proxy that never buffers event streams
  bench     the fan-out benchmark (from a source checkout)

Options:
  -h, --help      this help; \`sluice <command> --help\` for a command's options
  -v, --version   the version of sluice

${EXIT_STATUS}`

export interface CommandModule {
  main: (argv: string[]) => Promise<number | undefined | void>
  HELP: string
}

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import('./serve.js'),
  listen: () => import('./listen.js'),
  publish: () => import('./publish.js'),
  proxy: () => import('./proxy.js'),
  bench: () => import('./bench.js'),
}

/** package.json's version: this file is src/cli/main.ts or dist/cli/main.js. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  return String(pkg.version)
}

/** The usage lines of a help text: its first paragraph. */
function usageLines(help: string): string {
  return help.split('\n\n')[0]
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--help' || name === '-h' || name === 'help') {
    const load = rest[0] === undefined ? undefined : commands[rest[0]]
    process.stdout.write((load ? (await load()).HELP : USAGE) + '\n')
    return 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(version() + '\n')
    return 0
  }
  if (name === undefined) {
    process.stderr.write(`sluice: no command given.\n\n${USAGE}\n`)
    return 2
  }
  const load = commands[name]
  if (!load) {
    const what = name.startsWith('-') ? 'option' : 'command'
    process.stderr.write(`sluice: unknown ${what} '${name}'.\n\n${USAGE}\n`)
    return 2
  }
  const mod = await load()
  try {
    return (await mod.main(rest)) ?? 0
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `sluice ${name}: ${err.message}\n\n${usageLines(mod.HELP)}\n` +
          `Run 'sluice ${name} --help' for its options.\n`,
      )
      return 2
    }
    process.stderr.write(
      `sluice ${name}: ${redact(err instanceof Error ? err.message : String(err))}\n`,
    )
    return 1
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (err) => {
    process.stderr.write(`sluice: ${redact(err instanceof Error ? err.message : String(err))}\n`)
    process.exitCode = 1
  },
)
