/**
 * `npm run bench:fanout -- shards [--quick] [--msgs N] [--subscribers N]`: publishes per second
 * through the sharded store (src/hub/sharded) on 1, 2 and 3 Redis primaries,
 * with fan-out on 2 nodes (two hubs in this process, each with subscribers
 * to every topic). Every subscriber's sequence is checked: all events, seqs
 * strictly increasing. Also Redis's CPU per event (INFO cpu), which gives a
 * shard's publish capacity when Redis, not the node, is the bound. The 1-shard
 * run uses the same store, so the ratio is the store's scaling.
 */
import { createServer } from 'node:net'
import { Hub } from '../../src/hub/hub.js'
import { shardedRedisStore } from '../../src/hub/sharded/index.js'
import { command, type RedisServer, startRedis } from './redis.js'

const TOPICS = Array.from({ length: 24 }, (_, i) => `bench-${i}`)
const IN_FLIGHT = 256

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

async function redisCpu(port: number): Promise<number> {
  const text = await command(port, ['INFO', 'cpu'])
  const num = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0)
  return num('used_cpu_user') + num('used_cpu_sys')
}

interface Counter {
  n: number
  last: number
  bad: number
}

function subscribe(hub: Hub, signal: AbortSignal): Counter {
  const c: Counter = { n: 0, last: 0, bad: 0 }
  void (async () => {
    try {
      for await (const e of hub.subscribe(TOPICS, { signal, maxQueue: 1_000_000 })) {
        const seq = Number(e.id.slice(e.id.lastIndexOf('-') + 1))
        if (e.event !== '' || seq <= c.last) c.bad++
        c.last = seq
        c.n++
      }
    } catch {
      c.bad++
    }
  })()
  return c
}

async function publishAll(hubs: Hub[], total: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++
      await hubs[i % 2].publish(TOPICS[i % TOPICS.length], `{"n":${i},"pad":"${'x'.repeat(64)}"}`)
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
}

export interface ShardRun {
  shards: number
  publishesPerSecond: number
  /** Redis CPU (user + sys, all shards) per event, µs. */
  redisCpuPerEventUs: number
  delivered: number
  exact: boolean
}

async function runShards(count: number, msgs: number, perNode: number): Promise<ShardRun> {
  const servers: RedisServer[] = []
  for (let i = 0; i < count; i++) servers.push(await startRedis(await freePort()))
  const urls = servers.map((s) => s.url)
  const hubs = [
    new Hub({ store: await shardedRedisStore({ urls, maxLength: 1000 }) }),
    new Hub({ store: await shardedRedisStore({ urls, maxLength: 1000 }) }),
  ]
  const ac = new AbortController()
  const subs = hubs.flatMap((h) => Array.from({ length: perNode }, () => subscribe(h, ac.signal)))
  await new Promise((r) => setTimeout(r, 300))
  await publishAll(hubs, 2000) // warm-up
  const warm = 2000
  const until = async (n: number): Promise<void> => {
    const end = Date.now() + 120_000
    while (subs.some((s) => s.n < n) && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
  }
  await until(warm)
  const cpu0 = (await Promise.all(servers.map((s) => redisCpu(s.port)))).reduce((a, b) => a + b, 0)
  const t0 = performance.now()
  await publishAll(hubs, msgs)
  await until(warm + msgs)
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = (await Promise.all(servers.map((s) => redisCpu(s.port)))).reduce((a, b) => a + b, 0)
  const exact = subs.every((s) => s.n === warm + msgs && s.bad === 0)
  ac.abort()
  await Promise.all(hubs.map((h) => h.close()))
  await Promise.all(servers.map((s) => s.stop()))
  return {
    shards: count,
    publishesPerSecond: Math.round(msgs / seconds),
    redisCpuPerEventUs: Number((((cpu1 - cpu0) / msgs) * 1e6).toFixed(2)),
    delivered: subs.reduce((a, s) => a + s.n, 0),
    exact,
  }
}

export async function shardsMain(argv: string[]): Promise<number> {
  const i = argv.indexOf('--msgs')
  const msgs = i >= 0 ? Number(argv[i + 1]) : argv.includes('--quick') ? 20_000 : 100_000
  const j = argv.indexOf('--subscribers')
  // Subscribers per node; 0 measures appends alone (no node reads).
  const perNode = j >= 0 ? Number(argv[j + 1]) : 2
  const runs: ShardRun[] = []
  for (const count of [1, 2, 3]) {
    const r = await runShards(count, msgs, perNode)
    runs.push(r)
    process.stdout.write(
      `${count} shard(s): ${r.publishesPerSecond} publishes/s, Redis CPU ${r.redisCpuPerEventUs} µs/event, ` +
        `${2 * perNode} subscribers on 2 nodes, sequences ${r.exact ? 'exact' : 'NOT EXACT'}\n`,
    )
  }
  const ratio = (n: number) =>
    (runs[n - 1].publishesPerSecond / runs[0].publishesPerSecond).toFixed(2)
  process.stdout.write(
    `ratio 2/1 shards: ${ratio(2)}x, 3/1 shards: ${ratio(3)}x (${msgs} publishes each)\n`,
  )
  return runs.every((r) => r.exact) ? 0 : 1
}
