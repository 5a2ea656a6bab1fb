/** Which shard holds a topic, and the epoch of a set of shards. */

/** FNV-1a (32 bits) of the topic's UTF-16 code units, modulo the shard count. */
export function shardOf(topic: string, count: number): number {
  if (count === 1) return 0
  let h = 0x811c9dc5
  for (let i = 0; i < topic.length; i++) {
    h ^= topic.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % count
}

const named = new Map<string, string>()

/**
 * The epoch of the shards together: 13 base-36 characters (FNV-1a, 64 bits)
 * of their count and epochs, so a reset of any shard, or another number of
 * shards (topics move), is a new epoch, and an id of the single-instance
 * store (whose epoch is 10 characters) is never taken for one of these.
 */
export function epochOf(epochs: readonly string[]): string {
  const key = epochs.length + ':' + epochs.join(',')
  let e = named.get(key)
  if (e !== undefined) return e
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < key.length; i++) {
    h ^= BigInt(key.charCodeAt(i))
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
  }
  e = h.toString(36).padStart(13, '0')
  if (named.size > 1000) named.clear()
  named.set(key, e)
  return e
}
