// `npm run api:report`: writes docs/api.md, the public surface of every entry point.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { apiReport } from '../test/helpers/api-report.js'

const root = fileURLToPath(new URL('..', import.meta.url))
writeFileSync(new URL('../docs/api.md', import.meta.url), apiReport(root))
console.log('api:report: wrote docs/api.md')
