/** Servers the tests start themselves, always on the loopback interface. */
import type { Server } from 'node:net'

/** Listen on 127.0.0.1 and a free port; resolves with the port and the base URL (`http://127.0.0.1:PORT`). */
export async function listenLoopback(server: Server): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return { port, url: `http://127.0.0.1:${port}` }
}
