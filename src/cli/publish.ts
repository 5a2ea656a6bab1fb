/**
 * `sluice publish URL TOPIC DATA [--event E] [--token T]`: POST one event to a
 * hub. URL is the hub's base (`http://127.0.0.1:8080`) or its `/publish` URL.
 * Prints the event's id.
 */

const HELP = `Usage: sluice publish URL TOPIC DATA [--event E] [--token T]

  URL         the hub (http://127.0.0.1:8080) or its /publish URL
  TOPIC       the topic to publish to
  DATA        the event's data (sent as a string; use - to read it from stdin)
  --event E   the SSE event type
  --token T   a JWT allowed to publish to TOPIC (or set SLUICE_TOKEN)

Prints the id of the published event.`

export async function main(argv: string[]): Promise<number> {
  const positional: string[] = []
  let event: string | undefined
  let token = process.env.SLUICE_TOKEN
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(HELP + '\n')
      return 0
    }
    if (arg === '--event' || arg === '-e') event = argv[++i]
    else if (arg.startsWith('--event=')) event = arg.slice(8)
    else if (arg === '--token') token = argv[++i]
    else if (arg.startsWith('--token=')) token = arg.slice(8)
    else if (arg.startsWith('--') && arg !== '-') {
      process.stderr.write(`sluice publish: unknown option '${arg}'.\n\n${HELP}\n`)
      return 2
    } else positional.push(arg)
  }
  if (positional.length !== 3) {
    process.stderr.write(`sluice publish: expected URL TOPIC DATA.\n\n${HELP}\n`)
    return 2
  }
  const [rawUrl, topic] = positional
  let data = positional[2]
  if (data === '-') data = await readStdin()
  let url: URL
  try {
    url = new URL(rawUrl)
  } catch {
    process.stderr.write(`sluice publish: '${rawUrl}' is not a URL (try http://127.0.0.1:8080).\n`)
    return 2
  }
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
  process.stdout.write((body?.id ?? text) + '\n')
  return 0
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '')
}
