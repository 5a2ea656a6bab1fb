/**
 * Measurements of the emitter (not a test: numbers, no assertions).
 *
 *   node --expose-gc --import tsx test/server/measure.ts
 *
 * 1. Heap per open stream of the emitter itself (10 000 streams on a null
 *    transport, heartbeats on: what the emitter adds to each connection, not
 *    node's socket and request objects).
 * 2. Heap per open connection with real sockets: 2 000 idle event streams on
 *    node:http, the clients in a child process (so only the server side counts).
 * 3. Events per second through one real loopback socket, producer awaiting
 *    every send (64-byte events), read by a client in the same process.
 */
import { spawn } from 'node:child_process'
import { createServer, request } from 'node:http'
import { EventStream, type Sink, createEventStream } from '../../src/server/index.js'
import { heartbeatTimerCount } from '../../src/server/heartbeat.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) {
  console.error('run with --expose-gc')
  process.exit(1)
}

class NullSink implements Sink {
  write(): boolean {
    return true
  }
  buffered(): number {
    return 0
  }
  end(): void {}
  abort(): void {}
}

function heapPerStream(n: number, touchSignal: boolean): number {
  gc!()
  const before = process.memoryUsage().heapUsed
  const streams: EventStream[] = []
  for (let i = 0; i < n; i++) {
    const s = new EventStream({ heartbeat: 15_000 })
    s.attach(new NullSink())
    if (touchSignal) void s.signal
    streams.push(s)
  }
  gc!()
  const after = process.memoryUsage().heapUsed
  const timers = heartbeatTimerCount()
  for (const s of streams) s.complete()
  console.log(
    `  ${n} streams${touchSignal ? ' (signal used)' : ''}: ${Math.round((after - before) / n)} bytes of heap each, ${timers} heartbeat timer(s)`,
  )
  return after - before
}

async function throughput(ms: number): Promise<void> {
  const payload = 'x'.repeat(64 - 7) // 'data:' + 57 + '\n\n' = 64 bytes on the wire
  let sent = 0
  const server = createServer(async (req, res) => {
    const stream = createEventStream(req, res, { heartbeat: 0 })
    const end = performance.now() + ms
    while (performance.now() < end && !stream.isClosed) {
      for (let i = 0; i < 256; i++) await stream.send(payload)
      sent += 256
    }
    stream.complete()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  let bytes = 0
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    request(`http://127.0.0.1:${port}/`, (res) => {
      res.on('data', (d: Buffer) => (bytes += d.length))
      res.on('end', resolve)
    }).end()
  })
  const secs = (performance.now() - t0) / 1000
  server.close()
  console.log(
    `  ${Math.round(sent / secs).toLocaleString('en')} events/s, ${(bytes / secs / 1e6).toFixed(1)} MB/s (64-byte events, awaited sends, ${sent.toLocaleString('en')} events in ${secs.toFixed(1)} s)`,
  )
}

/** N idle connections held by a child process; heap and RSS of this (server) process per connection. */
async function perConnection(n: number): Promise<void> {
  const streams: EventStream[] = []
  const server = createServer((req, res) => {
    streams.push(createEventStream(req, res))
  })
  server.maxConnections = n + 10
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  gc!()
  await new Promise((r) => setTimeout(r, 100))
  gc!()
  const before = process.memoryUsage()
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const net=require('net');const socks=[];let open=0;
       for(let i=0;i<${n};i++){const s=net.connect(${port},'127.0.0.1',()=>{s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')});
       s.once('data',()=>{if(++open===${n})process.stdout.write('ready\\n')});s.on('error',()=>{});socks.push(s)}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('clients did not connect in 30 s')), 30_000)
    holder.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t)
        resolve()
      }
    })
  })
  gc!()
  await new Promise((r) => setTimeout(r, 100))
  gc!()
  const after = process.memoryUsage()
  console.log(
    `  ${streams.length} idle streams on node:http: ${Math.round((after.heapUsed - before.heapUsed) / n)} bytes of heap and ${Math.round((after.rss - before.rss) / n)} bytes of RSS each (node's socket, request and response included), ${heartbeatTimerCount()} heartbeat timer(s)`,
  )
  holder.kill()
  await new Promise((r) => holder.once('exit', r))
  server.close()
}

console.log('Heap per stream (emitter only):')
heapPerStream(10_000, false)
heapPerStream(10_000, true)
console.log('Real connections:')
await perConnection(2000)
console.log('One stream over loopback:')
await throughput(2000)
