#!/usr/bin/env node
/**
 * `sluice serve|listen|publish|proxy|bench`. Each command lives in its own
 * module and is loaded on demand, so `sluice listen` does not load the hub.
 */
const USAGE = `sluice — Server-Sent Events for TypeScript, both ends

Usage:
  sluice serve   [--host H] [--port P]           the hub, chat runs and demo page (default 127.0.0.1:8080)
  sluice listen  URL [-X M] [-H 'K: V']... [-d BODY] [--last-event-id ID] [--json]
  sluice publish URL TOPIC DATA [--event E] [--token T]
  sluice proxy   --target URL [--port P] [--host H]   a dev reverse proxy that never buffers event streams
  sluice bench   [--quick] [--variants a,b] [--scenarios x,y]   the fan-out benchmark (source checkout)

Run \`sluice <command> --help\` for a command's options.`

type Command = (argv: string[]) => Promise<number | undefined | void>

const commands: Record<string, () => Promise<{ main: Command }>> = {
  serve: () => import('./serve.js'),
  listen: () => import('./listen.js'),
  publish: () => import('./publish.js'),
  proxy: () => import('./proxy.js'),
  bench: () => import('./bench.js'),
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n')
    return name ? 0 : 1
  }
  const load = commands[name]
  if (!load) {
    process.stderr.write(`sluice: unknown command '${name}'.\n\n${USAGE}\n`)
    return 2
  }
  const mod = await load()
  return (await mod.main(rest)) ?? 0
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (err) => {
    process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
