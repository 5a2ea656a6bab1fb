/** `sluice serve` processes for the multi-node tests, spawned from the CLI source. */
import { fileURLToPath } from 'node:url'
import { freePort, start, waitForPort, type Started } from '../helpers/external.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

export interface ServeNode {
  base: string
  port: number
  proc: Started
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startNode(args: string[]): Promise<ServeNode> {
  const port = await freePort()
  const proc = start(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port), ...args],
    { cwd: root },
  )
  try {
    await waitForPort(port, 20_000)
  } catch (err) {
    throw new Error(`sluice serve did not start: ${(err as Error).message}\n${proc.output()}`)
  }
  return { base: `http://127.0.0.1:${port}`, port, proc, stop: (s) => proc.stop(s) }
}
