-- Close a reservation with the images really generated and what the call was charged, for
-- the key and (optionally) its team, the "subjects".
-- KEYS, per subject s = 0 (the key) and s = 1 (its team), at 9*s + 1 .. 9*s + 9:
--       1 reservations zset, 2 reservation details hash, 3 images-per-minute TAT,
--       4 day image counter, 5 month image counter, 6 day spend counter, 7 month spend
--       counter, 8 usage of the day, 9 usage of the month;
--       then the set of the day's usage hashes (as admit.lua keeps it), and the cache
--       entry to write and the single-flight lock to release (its name is also the channel
--       woken), the last two.
-- ARGV: 1 reservation id, 2 images, 3 now, 4 day, 5 month, 6 seconds to day end,
--       7 seconds to month end, 8 usage ttl, 9 cache ttl in ms (0 = write nothing),
--       10 body, 11 stored at, 12 expires at, 13 cached images, 14 release the lock (1/0),
--       15 a retry of a call whose reply was lost (1/0): if the key's reservation is no
--          longer held, that call closed it (or it was never made), so change nothing,
--       16 charged nano-dollars, 17 subjects (1 or 2), 18.. per subject its images/min
--       limit now (-1), then usage name, value pairs.
-- Returns, per subject, the settled images and nano-dollars of the day and of the month
-- after this step (for alerts), or an empty list when a retry changed nothing.
local PERIOD = 60
local now = tonumber(ARGV[3])
local images, charged = tonumber(ARGV[2]), tonumber(ARGV[16])
local subjects = tonumber(ARGV[17])
local day, month = ARGV[4], ARGV[5]
local day_ttl = math.ceil(tonumber(ARGV[6])) + 3600
local month_ttl = math.ceil(tonumber(ARGV[7])) + 86400
local active = KEYS[9 * subjects + 1]
local MEMBER = '^([^|]*)|(%d+)|([^|]*)|([^|]*)|(-?%d+)|?(%d*)$'
if ARGV[15] == '1' and not redis.call('HGET', KEYS[2], ARGV[1]) then return {} end

-- Expiry set once per counter, as in admit.lua: when this creates or resets it.
local function add(key, delta, ttl)
  local v = redis.call('INCRBY', key, delta)
  if v < 0 then
    redis.call('SET', key, 0, 'EX', ttl)
  elseif v == delta then
    redis.call('EXPIRE', key, ttl)
  end
end

local settled = {}
for s = 0, subjects - 1 do
  local k = 9 * s
  local member = redis.call('HGET', KEYS[k + 2], ARGV[1])
  local units, nanos, rday, rmonth = 0, 0, day, month
  local rlimit = tonumber(ARGV[18 + s])
  if member then
    local _, u, d, m, l, c = string.match(member, MEMBER)
    units, rday, rmonth, rlimit, nanos = tonumber(u), d, m, tonumber(l), tonumber(c) or 0
    redis.call('ZREM', KEYS[k + 1], member)
    redis.call('HDEL', KEYS[k + 2], ARGV[1])
  end
  local delta, spend = images - units, charged - nanos
  if rday == day then
    if delta ~= 0 then add(KEYS[k + 4], delta, day_ttl) end
    if spend ~= 0 then add(KEYS[k + 6], spend, day_ttl) end
  end
  if rmonth == month then
    if delta ~= 0 then add(KEYS[k + 5], delta, month_ttl) end
    if spend ~= 0 then add(KEYS[k + 7], spend, month_ttl) end
  end
  if delta ~= 0 and rlimit > 0 then
    local tat = tonumber(redis.call('GET', KEYS[k + 3]))
    if tat == nil or tat < now then tat = now end
    tat = math.max(now, tat + delta * PERIOD / rlimit)
    redis.call('SET', KEYS[k + 3], string.format('%.17g', tat), 'EX', math.ceil(tat - now) + 61)
  end
  -- The first images a day's usage gets (from a call that settles after midnight, say)
  -- also list the subject in that day's set, as admit.lua does for a day's first request.
  local used_day, used_month = KEYS[k + 8], KEYS[k + 9]
  for i, used in ipairs({used_day, used_month}) do
    local total = redis.call('HINCRBY', used, 'images', ARGV[2])
    table.insert(settled, total)
    if i == 1 and total == images then
      redis.call('SADD', active, used)
      redis.call('EXPIRE', active, ARGV[8])
    end
    if charged > 0 then
      table.insert(settled, redis.call('HINCRBY', used, 'spend_nanos', ARGV[16]))
    else
      table.insert(settled, tonumber(redis.call('HGET', used, 'spend_nanos')) or 0)
    end
  end
  for i = 18 + subjects, #ARGV, 2 do
    redis.call('HINCRBY', used_day, ARGV[i], ARGV[i + 1])
  end
  redis.call('EXPIRE', used_day, ARGV[8])
  redis.call('EXPIRE', used_month, ARGV[8])
end

local cache_ms = tonumber(ARGV[9])
if cache_ms > 0 then
  redis.call('HSET', KEYS[#KEYS - 1], 'body', ARGV[10], 'stored_at', ARGV[11],
             'expires_at', ARGV[12], 'images', ARGV[13])
  redis.call('PEXPIRE', KEYS[#KEYS - 1], ARGV[9])
end
if ARGV[14] == '1' and redis.call('GET', KEYS[#KEYS]) == ARGV[1] then
  redis.call('DEL', KEYS[#KEYS])
  redis.call('PUBLISH', KEYS[#KEYS], 'released')
end
return settled
