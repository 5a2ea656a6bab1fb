/**
 * The Lua scripts of one shard of the sharded store (see ./index.ts).
 *
 * A shard's seqs are a hybrid clock: `seq ≡ shard index (mod shard count)`,
 * strictly increasing on the shard, and at least Redis's clock in units of
 * 10 µs since 2020 times the shard count. So seqs are unique across shards,
 * and shards that publish at the same time issue seqs close to each other,
 * which is what lets a node merge the shards into one order (../sharded/
 * merge.ts) without waiting long.
 */

/** 2020-01-01T00:00:00Z: seqs count 10 µs units from here (15 digits last until ~2051 with 32 shards). */
export const CLOCK_ORIGIN_MS = 1577836800000

/**
 * KEYS: epoch, seq, then the batch's distinct streams, then each stream's
 * trim mark (same order). ARGV: candidate epoch, maxLength, maxAge, n,
 * shard count, shard index, then per event: stream index, data, event.
 * Replies `{epoch, first seq, append time}`; the batch's seqs are
 * first, first + count, first + 2 * count...
 *
 * The trimming is APPEND_LUA's (../redis/scripts.ts): XDEL of the oldest
 * entries so `max-deleted-entry-id` and the trim mark tell readers of loss.
 */
export const SHARD_APPEND_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local n = tonumber(ARGV[4])
local count = tonumber(ARGV[5])
local index = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%d', now)
local clock = (tonumber(t[1]) * 100000 + math.floor(tonumber(t[2]) / 10) - ${CLOCK_ORIGIN_MS * 100}) * count + index
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local r = last + 1
r = r + ((index - r) % count)
local first = math.max(r, clock)
redis.call('SET', KEYS[2], string.format('%d', first + (n - 1) * count))
for i = 0, n - 1 do
  local key = KEYS[2 + tonumber(ARGV[7 + i * 3])]
  local id = string.format('%d', first + i * count) .. '-0'
  local event = ARGV[9 + i * 3]
  if event ~= '' then
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[8 + i * 3], 'e', event)
  else
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[8 + i * 3])
  end
end
local maxLength = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local slack = math.max(1, math.min(100, math.floor(maxLength / 10)))
local streams = (#KEYS - 2) / 2
for k = 3, 2 + streams do
  local key = KEYS[k]
  local trimmed = false
  local lastDeleted = nil
  local excess = redis.call('XLEN', key) - maxLength
  while excess >= slack do
    local old = redis.call('XRANGE', key, '-', '+', 'COUNT', math.min(excess, 1000))
    local ids = {}
    for i, entry in ipairs(old) do ids[i] = entry[1] end
    if #ids == 0 then break end
    redis.call('XDEL', key, unpack(ids))
    trimmed = true
    lastDeleted = ids[#ids]
    excess = excess - #ids
  end
  if maxAge > 0 and not trimmed then
    local cutoff = now - maxAge
    for round = 1, n do
      local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 64)
      local ids = {}
      for i, entry in ipairs(head) do
        if tonumber(entry[2][2]) >= cutoff then break end
        ids[i] = entry[1]
      end
      if #ids > 0 then
        redis.call('XDEL', key, unpack(ids))
        lastDeleted = ids[#ids]
      end
      if #ids < 64 then break end
    end
  end
  if lastDeleted then
    redis.call('SET', KEYS[k + streams], string.sub(lastDeleted, 1, string.find(lastDeleted, '-') - 1))
  end
end
return {epoch, string.format('%d', first), nowText}
`

/**
 * KEYS: epoch, seq. ARGV: candidate epoch, at least. Moves the shard's seq up
 * to `at least` (never down): every later append on the shard gets a higher
 * seq. Replies `{epoch, seq}` (the epoch created if the shard has none).
 */
export const BUMP_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
local want = tonumber(ARGV[2])
if want > cur then
  redis.call('SET', KEYS[2], ARGV[2])
  cur = want
end
return {epoch, string.format('%d', cur)}
`

export const SHARD_APPEND_COMMAND = 'sluiceShardAppend'
export const BUMP_COMMAND = 'sluiceShardBump'
