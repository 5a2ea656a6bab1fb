/**
 * A Redis Cluster as shards: one shard per primary, its keys under a hash tag
 * whose slot that primary serves (`<prefix>{s7}:seq`...), so every key of a
 * shard is in one slot and the shard's scripts and MULTIs run on one node.
 * The layout is read once (CLUSTER SLOTS) when the store starts: every node
 * of a hub must see the same primaries; a resharded cluster (another number
 * of primaries) is a new epoch, and moved slots need the nodes restarted.
 */
import type { Redis as RedisClient } from 'ioredis'
import { SluiceError } from '../../protocol/errors.js'

type RedisCtor = new (url: string, options: Record<string, unknown>) => RedisClient

/** CRC16/XMODEM of the key's bytes, modulo 16384: Redis Cluster's slot (no hash tag inside `key`). */
export function slotOf(key: string): number {
  const bytes = new TextEncoder().encode(key)
  let crc = 0
  for (const b of bytes) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

export interface ClusterShard {
  url: string
  prefix: string
}

/** `redis+cluster://[user:pass@]host:port` (or `rediss+cluster://`): one shard per primary. */
export async function clusterShards(
  Redis: RedisCtor,
  seed: string,
  prefix: string,
): Promise<ClusterShard[]> {
  const u = new URL(seed.replace(/^(rediss?)\+cluster:/, '$1:'))
  const client = new Redis(u.href, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  })
  client.on('error', () => {})
  let slots: [number, number, [string, number]][]
  try {
    await client.connect()
    slots = (await client.call('CLUSTER', 'SLOTS')) as typeof slots
  } catch (cause) {
    throw new SluiceError(
      'STORE_ERROR',
      `Cannot read the Redis Cluster layout at ${u.host}.`,
      {},
      { cause },
    )
  } finally {
    client.disconnect()
  }
  const ranges = new Map<string, [number, number][]>()
  for (const [start, end, [host, port]] of slots) {
    const addr = `${host}:${port}`
    const list = ranges.get(addr) ?? []
    list.push([start, end])
    ranges.set(addr, list)
  }
  const primaries = [...ranges.keys()].sort()
  const shards: ClusterShard[] = []
  for (const addr of primaries) {
    const owned = ranges.get(addr)!
    let n = 0
    while (!owned.some(([a, b]) => slotOf(`s${n}`) >= a && slotOf(`s${n}`) <= b)) n++
    const url = new URL(u.href)
    url.host = addr
    shards.push({ url: url.href, prefix: `${prefix}{s${n}}:` })
  }
  return shards
}
