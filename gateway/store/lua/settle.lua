-- Close a reservation with the number of images really generated.
-- KEYS: 1 reservations zset, 2 reservation details hash, 3 images-per-minute TAT,
--       4 day counter, 5 month counter, 6 usage of the day, 7 cache entry to write,
--       8 single-flight lock to release (its name is also the channel woken)
-- ARGV: 1 reservation id, 2 images, 3 now, 4 day, 5 month, 6 images/min limit now (-1),
--       7 seconds to day end, 8 seconds to month end, 9 usage ttl,
--       10 cache ttl in ms (0 = write nothing), 11 body, 12 stored at, 13 expires at,
--       14 cached images, 15 release the lock (1/0),
--       16 a retry of a call whose reply was lost (1/0): if the reservation is no longer
--          held, that call closed it (or it was never made), so change nothing,
--       17.. usage name, value
local PERIOD = 60
local now = tonumber(ARGV[3])
local images = tonumber(ARGV[2])
local member = redis.call('HGET', KEYS[2], ARGV[1])
local reserved, rday, rmonth, rlimit = 0, ARGV[4], ARGV[5], tonumber(ARGV[6])
if not member and ARGV[16] == '1' then return 0 end
if member then
  local _, units, d, m, l = string.match(member, '^([^|]*)|(%d+)|([^|]*)|([^|]*)|(-?%d+)$')
  reserved, rday, rmonth, rlimit = tonumber(units), d, m, tonumber(l)
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], ARGV[1])
end
local delta = images - reserved
local function add(key, ttl)
  local v = redis.call('INCRBY', key, delta)
  if v < 0 then redis.call('SET', key, 0) end
  redis.call('EXPIRE', key, ttl)
end
if delta ~= 0 then
  if rday == ARGV[4] then add(KEYS[4], math.ceil(tonumber(ARGV[7])) + 3600) end
  if rmonth == ARGV[5] then add(KEYS[5], math.ceil(tonumber(ARGV[8])) + 86400) end
  if rlimit > 0 then
    local tat = tonumber(redis.call('GET', KEYS[3]))
    if tat == nil or tat < now then tat = now end
    tat = math.max(now, tat + delta * PERIOD / rlimit)
    redis.call('SET', KEYS[3], string.format('%.17g', tat), 'EX', math.ceil(tat - now) + 61)
  end
end
redis.call('HINCRBY', KEYS[6], 'images', images)
for i = 17, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[6], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[6], tonumber(ARGV[9]))
local cache_ms = tonumber(ARGV[10])
if cache_ms > 0 then
  redis.call('HSET', KEYS[7], 'body', ARGV[11], 'stored_at', ARGV[12], 'expires_at', ARGV[13],
             'images', ARGV[14])
  redis.call('PEXPIRE', KEYS[7], cache_ms)
end
if ARGV[15] == '1' and redis.call('GET', KEYS[8]) == ARGV[1] then
  redis.call('DEL', KEYS[8])
  redis.call('PUBLISH', KEYS[8], 'released')
end
return 1
