/**
 * test/server/node-emitter.test.ts again with the fast path off for the whole
 * process (SLUICE_FAST_PATH=0): every emitter behaviour holds on node:http's
 * plain res.write path too.
 */
import { expect, it } from 'vitest'

process.env.SLUICE_FAST_PATH = '0'
const { createEventStream } = await import('../../src/server/index.js')
const { usesFastPath } = await import('../../src/server/node.js')
await import('./node-emitter.test.js')

it('the switch is on: a stream opened now does not take the fast path', async () => {
  const { startServer } = await import('./support.js')
  let fast: boolean | undefined
  const server = await startServer((req, res) => {
    const s = createEventStream(req, res, { heartbeat: 0 })
    fast = usesFastPath(s)
    s.complete()
  })
  await (await fetch(server.url)).text()
  await server.close()
  expect(fast).toBe(false)
})
