/**
 * Serving the demo page: `GET /` and its hashed assets from the Vite build
 * (`dist/app`, shipped inside the package). Nothing is fetched from the
 * network at run time; the page has no external fonts or CDNs.
 */
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sendJsonError } from '../server/http-json.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

/**
 * Where the built page is: `$SLUICE_APP_DIR`, else `dist/app` next to the
 * compiled CLI (`dist/cli/../app`), else — when running from source with
 * tsx — the repository's `dist/app`.
 */
export function defaultAppDir(): string {
  if (process.env.SLUICE_APP_DIR) return resolve(process.env.SLUICE_APP_DIR)
  const here = fileURLToPath(new URL('.', import.meta.url))
  const beside = resolve(here, '../app')
  if (existsSync(join(beside, 'index.html')) && existsSync(join(beside, 'assets'))) return beside
  return resolve(here, '../../dist/app')
}

export interface StaticRoute {
  method: 'GET'
  path: string
  handler: (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: { params: Record<string, string> },
  ) => Promise<void>
}

/**
 * The routes of the page: `GET /` (index.html, never cached, so a new build
 * shows at once) and `GET /assets/:file` (content-hashed, cached for a year).
 */
export function appRoutes(dir: string = defaultAppDir()): StaticRoute[] {
  const root = resolve(dir)
  const index = async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let html: Buffer
    try {
      html = await readFile(join(root, 'index.html'))
    } catch {
      sendJsonError(
        res,
        503,
        'APP_NOT_BUILT',
        `The demo page is not built (no ${join(root, 'index.html')}). Run \`npm run build\`, or set SLUICE_APP_DIR to a built page.`,
      )
      return
    }
    res.writeHead(200, {
      'content-type': TYPES['.html'],
      'content-length': html.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      // The page talks only to its own origin.
      'content-security-policy':
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
    })
    res.end(html)
  }
  const asset = async (
    _req: IncomingMessage,
    res: ServerResponse,
    ctx: { params: Record<string, string> },
  ): Promise<void> => {
    const name = ctx.params.file ?? ''
    const file = resolve(root, 'assets', name)
    const type = TYPES[extname(name)]
    if (!type || !file.startsWith(join(root, 'assets') + sep) || name.includes('..')) {
      sendJsonError(res, 404, 'NOT_FOUND', `No asset named ${JSON.stringify(name)}.`)
      return
    }
    let body: Buffer
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file')
      body = await readFile(file)
    } catch {
      sendJsonError(res, 404, 'NOT_FOUND', `No asset named ${JSON.stringify(name)}.`)
      return
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    })
    res.end(body)
  }
  return [
    { method: 'GET', path: '/', handler: index },
    { method: 'GET', path: '/index.html', handler: index },
    { method: 'GET', path: '/assets/:file', handler: asset },
  ]
}
