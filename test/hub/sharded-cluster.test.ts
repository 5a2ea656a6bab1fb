/**
 * The sharded store on a real Redis Cluster: three primaries on loopback
 * (`redis-server --cluster-enabled yes`, `redis-cli --cluster create`), two
 * hubs in this process: a shard per primary (keys under a hash tag it
 * serves), subscribers spanning them get one exact order, a primary killed
 * and restarted (append-only file) mid-stream loses nothing, and a resume on
 * the other node is exact.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Hub } from '../../src/hub/hub.js'
import { shardedRedisStore } from '../../src/hub/sharded/index.js'
import type { HubEvent } from '../../src/hub/subscription.js'
import { describeExternal, freePort, requireBinary } from '../helpers/external.js'
import { command, type RedisServer, startRedisServer } from '../helpers/redis-server.js'

function collect(hub: Hub, topics: string[], lastEventId = '') {
  const ac = new AbortController()
  const events: HubEvent[] = []
  const done = (async () => {
    try {
      for await (const e of hub.subscribe(topics, { signal: ac.signal, lastEventId }))
        events.push(e)
    } catch {}
  })()
  return {
    events,
    stop: async () => {
      ac.abort()
      await done
    },
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describeExternal(
  ['redis-server', 'redis-cli'],
  'sharded store on a three-primary Redis Cluster',
  () => {
    const dirs: string[] = []
    const servers: RedisServer[] = []
    let a: Hub
    let b: Hub
    const topics = Array.from({ length: 12 }, (_, i) => `c${i}`)
    const launch = (port: number, dir: string) =>
      startRedisServer({
        port,
        bin: requireBinary('redis-server'),
        args: [
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '5000',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
        ],
      })

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'))
        dirs.push(dir)
        servers.push(await launch(await freePort(), dir))
      }
      execFileSync(
        requireBinary('redis-cli'),
        [
          '--cluster',
          'create',
          ...servers.map((s) => `127.0.0.1:${s.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { stdio: 'ignore', timeout: 20_000 },
      )
      for (const s of servers)
        await until(async () => /cluster_state:ok/.test(await command(s.port, ['CLUSTER', 'INFO'])))
      const urls = [`redis+cluster://127.0.0.1:${servers[0].port}`]
      a = new Hub({ store: await shardedRedisStore({ urls, blockMs: 500 }) })
      b = new Hub({ store: await shardedRedisStore({ urls, blockMs: 500 }) })
    }, 40_000)

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()])
      await Promise.all(servers.map((s) => s.stop()))
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    })

    it('one shard per primary; a primary killed and restarted mid-stream; exact order and resume across nodes', async () => {
      const subs = [collect(a, topics), collect(b, topics)]
      await new Promise((r) => setTimeout(r, 200))
      const published: string[] = []
      const refused: string[] = []
      for (let i = 0; i < 300; i++) {
        try {
          published.push(await (i % 2 ? a : b).publish(topics[i % topics.length], `e${i}`))
        } catch {
          refused.push(topics[i % topics.length])
        }
        if (i === 100) await servers[1].proc.stop('SIGKILL')
        if (i === 200) servers[1] = await launch(servers[1].port, dirs[1])
      }
      expect(refused.length).toBeGreaterThan(0)
      // Every primary held some of the published events (a shard each).
      const shards = new Set(published.map((id) => Number(id.slice(id.lastIndexOf('-') + 1)) % 3))
      expect(shards.size).toBe(3)
      const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
      published.sort((x, y) => seqOf(x) - seqOf(y))
      for (const c of subs) {
        await until(() => c.events.length >= published.length)
        await new Promise((r) => setTimeout(r, 100))
        expect(c.events.map((e) => e.id)).toEqual(published)
      }
      const cut = 120
      const resumed = collect(a, topics, published[cut])
      await until(() => resumed.events.length >= published.length - cut - 1)
      expect(resumed.events.map((e) => e.id)).toEqual(published.slice(cut + 1))
      for (const c of [...subs, resumed]) await c.stop()
    }, 40_000)
  },
)
