import { createServer } from 'node:http'

/** Placeholder until the server issue lands: liveness only. */
export async function main(argv: string[]): Promise<number | undefined> {
  let host = '127.0.0.1'
  let port = 8080
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--host') host = argv[++i]
    else if (argv[i] === '--port') port = Number(argv[++i])
  }
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}')
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  process.stdout.write(`sluice serve: listening on http://${host}:${port}\n`)
  const stop = () => server.close(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return undefined
}
