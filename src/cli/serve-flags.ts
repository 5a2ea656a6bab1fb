/**
 * `sluice serve`'s command line: `--host`, `--port`, `--tls-cert`/`--tls-key`, the runs' `--run-*`
 * flags and the hub's (hub-options.ts), read by the one parser (args.ts).
 */
import { intFlag, parseFlags, portFlag, UsageError } from './args.js'
import { HUB_FLAGS, type HubFlags, hubFlags } from './hub-options.js'

const SERVE_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'run-ttl': { type: 'string' },
  'run-lease': { type: 'string' },
  'run-max-events': { type: 'string' },
  'run-memory': { type: 'string' },
  'run-abandon': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...HUB_FLAGS,
} as const

export interface ServeFlags {
  help: boolean
  host: string
  port: number
  /** Files of the certificate (chain) and its key, PEM: HTTPS with HTTP/2. */
  tls?: { cert: string; key: string }
  hub: HubFlags
  /** Runs' TTL, lease and abandonment (ms), and their memory budget (bytes). */
  runs: { ttl?: number; lease?: number; abandonAfter?: number; memoryBudget?: number }
  /** Events kept per run (its store's maxLength). */
  runMaxEvents: number
}

/** Parse `sluice serve`'s arguments; throws `UsageError` naming the flag at fault. */
export function parseServeFlags(argv: readonly string[]): ServeFlags {
  const { values, positionals } = parseFlags(argv, SERVE_FLAGS)
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`)
  const host = values.host ?? '127.0.0.1'
  if (host === '') throw new UsageError('--host needs an address, got an empty one.')
  const num = (flag: string, v: string | undefined) =>
    v === undefined ? undefined : intFlag(flag, v)
  const runs: ServeFlags['runs'] = {}
  const ttl = num('--run-ttl', values['run-ttl'])
  const lease = num('--run-lease', values['run-lease'])
  if (ttl !== undefined) runs.ttl = ttl
  if (lease !== undefined) runs.lease = lease
  const memory = num('--run-memory', values['run-memory'])
  if (memory !== undefined) runs.memoryBudget = memory
  // 0 is allowed: stop a run as soon as nobody follows it.
  const abandon = values['run-abandon']
  if (abandon !== undefined) runs.abandonAfter = intFlag('--run-abandon', abandon, 0)
  const cert = values['tls-cert']
  const key = values['tls-key']
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--tls-cert and --tls-key go together: give both files, or neither.')
  return {
    help: values.help === true,
    host,
    port: values.port === undefined ? 8080 : portFlag('--port', values.port),
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    hub: hubFlags(values),
    runs,
    runMaxEvents: num('--run-max-events', values['run-max-events']) ?? 10_000,
  }
}
