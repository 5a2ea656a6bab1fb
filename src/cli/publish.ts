/**
 * `sluice publish URL TOPIC DATA [--event E] [--token T]`: POST one event to a
 * hub. URL is the hub's base (`http://127.0.0.1:8080`) or its `/publish` URL.
 * Prints the event's id.
 */
import { EXIT_STATUS, UsageError, parseFlags, urlArg } from './args.js'

export const HELP = `Usage: sluice publish URL TOPIC DATA [options]

Publish one event to a sluice hub and print its id.

Arguments:
  URL              the hub (http://127.0.0.1:8080) or its /publish URL
  TOPIC            the topic to publish to
  DATA             the event's data (sent as a string; - reads it from stdin)

Options:
  -e, --event E    the SSE event type
      --token T    a JWT allowed to publish to TOPIC (default: $SLUICE_TOKEN;
                   how to mint one: docs/cli.md)
  -h, --help       this help

${EXIT_STATUS}`

const FLAGS = {
  event: { type: 'string', short: 'e' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function main(argv: string[]): Promise<number> {
  const { values, positionals: positional } = parseFlags(argv, FLAGS)
  if (values.help) {
    process.stdout.write(HELP + '\n')
    return 0
  }
  const event = values.event
  const token = values.token ?? process.env.SLUICE_TOKEN
  if (positional.length !== 3) {
    throw new UsageError(`expected URL TOPIC DATA, got ${positional.length} argument(s).`)
  }
  const [rawUrl, topic] = positional
  const url = urlArg('URL', rawUrl, 'http://127.0.0.1:8080')
  let data = positional[2]
  if (data === '-') data = await readStdin()
  if (!url.pathname.endsWith('/publish')) {
    url.pathname = url.pathname.replace(/\/?$/, '/publish')
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(event === undefined ? { topic, data } : { topic, data, event }),
    })
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message
    process.stderr.write(
      `sluice publish: cannot reach ${url}: ${cause ?? (err as Error).message}\n`,
    )
    return 1
  }
  const text = await res.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    body = null
  }
  if (!res.ok) {
    const detail = body?.message ? `${body.error}: ${body.message}` : text.slice(0, 200)
    process.stderr.write(`sluice publish: ${res.status} ${detail}\n`)
    return 1
  }
  // A hub answers {"id":"..."}; anything else is not a hub (a wrong URL or port).
  if (typeof body?.id !== 'string') {
    process.stderr.write(
      `sluice publish: ${url} answered ${res.status} without an event id, so it is not a sluice hub ` +
        `(check the URL and port). Body: ${text.slice(0, 200)}\n`,
    )
    return 1
  }
  process.stdout.write(body.id + '\n')
  return 0
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '')
}
