/**
 * Event ids of the hub: `<epoch>-<seq>`.
 *
 * `seq` is one hub-wide sequence (not per topic), so a single id says where a
 * subscriber stands on every topic at once: "everything up to seq N". A
 * per-topic id (such as a Redis stream id) cannot do that: two streams may
 * hold the same id, and a subscriber cut between them would skip one.
 *
 * `epoch` names the life of the store that issued the id. A restarted memory
 * hub or a flushed Redis starts a new epoch, so an id from an earlier one is
 * recognised as such and the loss is reported instead of silently skipped.
 */

export interface ParsedId {
  epoch: string
  seq: number
}

const EPOCH_RE = /^[0-9a-z]{1,32}$/

/** A fresh random epoch: 10 base-36 characters (about 52 bits). */
export function newEpoch(): string {
  const bytes = new Uint8Array(8)
  globalThis.crypto.getRandomValues(bytes)
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return (n % 36n ** 10n).toString(36).padStart(10, '0')
}

export function formatId(epoch: string, seq: number): string {
  return epoch + '-' + seq
}

/** Parse an id the hub issued; `null` for anything else (treated like an id from another epoch). */
/** Whether an id is one the hub issues (for comma-joined Last-Event-ID values). */
export const isHubId = (id: string): boolean => parseId(id) !== null

export function parseId(id: string | null | undefined): ParsedId | null {
  if (!id) return null
  const dash = id.lastIndexOf('-')
  if (dash <= 0) return null
  const epoch = id.slice(0, dash)
  const digits = id.slice(dash + 1)
  if (!EPOCH_RE.test(epoch) || !/^\d{1,15}$/.test(digits)) return null
  return { epoch, seq: Number(digits) }
}
