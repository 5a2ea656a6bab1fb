/**
 * A self-signed certificate for localhost and 127.0.0.1 (valid a day), made
 * with the real openssl into `dir`, for the HTTPS/HTTP/2 tests.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { requireBinary } from './external.js'

export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    requireBinary('openssl'),
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ...['-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  )
  return { cert, key }
}
