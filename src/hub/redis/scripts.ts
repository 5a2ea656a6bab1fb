/**
 * The Lua script behind `Store.append` on Redis: one call appends a batch of
 * events (one round trip for N publishes) and trims their streams.
 */

/**
 * KEYS: epoch, seq, then the batch's distinct streams, then each stream's
 * trim mark (same order).
 * ARGV: candidate epoch, maxLength, maxAge (0 = none), n, then per event:
 * stream index (1-based into the streams), data, event ('' = none).
 *
 * One call appends a batch: the seqs are consecutive (INCRBY n) in ARGV order,
 * all with one append time. Trimming is by XDEL of the oldest entries in
 * batches (the amortised effect of `MAXLEN ~`), not by XADD's MAXLEN: XDEL
 * records the stream's `max-deleted-entry-id`, MAXLEN trimming does not, and
 * that id is what tells a reader exactly whether events after its
 * Last-Event-ID were dropped. The highest seq trimmed from a stream is also
 * kept in its trim mark (a plain key), which the read loops of every node
 * read with their XREAD (one MGET): a node that fell behind by more than the
 * history learns which events it can no longer deliver.
 *
 * Replies `{epoch, first seq, append time (ms, as text)}`.
 */
export const APPEND_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local n = tonumber(ARGV[4])
local last = redis.call('INCRBY', KEYS[2], n)
local first = last - n + 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = string.format('%d', now)
for i = 0, n - 1 do
  local key = KEYS[2 + tonumber(ARGV[5 + i * 3])]
  local id = string.format('%d', first + i) .. '-0'
  local event = ARGV[7 + i * 3]
  if event ~= '' then
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[6 + i * 3], 'e', event)
  else
    redis.call('XADD', key, id, 't', nowText, 'd', ARGV[6 + i * 3])
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
return {epoch, first, nowText}
`

/** The command name `defineCommand` gives APPEND_LUA on the command connection. */
export const APPEND_COMMAND = 'sluiceAppend'
