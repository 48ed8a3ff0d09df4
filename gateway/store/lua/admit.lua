-- One admission decision, atomically: key freshness, reclaim of expired reservations,
-- cache lookup, day/month quotas, per-minute GCRA limits, reservation and usage.
-- KEYS: 1 key version, 2 rpm TAT, 3 images-per-minute TAT, 4 day counter, 5 month counter,
--       6 reservations (zset by expiry), 7 reservation details (hash), 8 usage of the day,
--       9 cache entry, 10 the cache entry's single-flight lock
-- ARGV (what changes with every request first, then what stays for a key and a day):
--       1 now, 2 images, 3 reservation id, 4 seconds to day end, 5 seconds to month end,
--       6 look up the cache (1/0),
--       7 single-flight lock ttl in ms when admitted on a miss (0 = do not take it),
--       8 version, 9 reservation ttl, 10 rpm, 11 images/min, 12 images/day,
--       13 images/month (-1 = unlimited), 14 day, 15 month, 16 usage ttl
local PERIOD = 60
local EPS = 1e-6
if redis.call('GET', KEYS[1]) ~= ARGV[8] then return {'stale_key'} end
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local rpm, ipm = tonumber(ARGV[10]), tonumber(ARGV[11])
local ipd, ipmo = tonumber(ARGV[12]), tonumber(ARGV[13])
local day, month = ARGV[14], ARGV[15]
local day_ends, month_ends = tonumber(ARGV[4]), tonumber(ARGV[5])
local usage_ttl = tonumber(ARGV[16])

-- Every number this script reads (TATs, counters) is read from Redis once and then
-- remembered, writes included, so the headers at the end cost no further reads.
local known = {}
local function number(key)
  local v = known[key]
  if v == nil then
    v = tonumber(redis.call('GET', key)) or false
    known[key] = v
  end
  return v or nil
end

local function tat_of(key)
  local t = number(key)
  if t == nil or t < now then return now end
  return t
end

local function set_tat(key, tat)
  redis.call('SET', key, string.format('%.17g', tat), 'EX', math.ceil(tat - now) + 61)
  known[key] = tat
end

local function counter(key) return number(key) or 0 end

local function add(key, delta, ttl)
  local v = redis.call('INCRBY', key, delta)
  if v < 0 then
    redis.call('SET', key, 0)
    v = 0
  end
  redis.call('EXPIRE', key, ttl)
  known[key] = v
end

-- Give back reservations whose gateway never settled them (crashed or hung).
local expired = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now)
for _, member in ipairs(expired) do
  local rid, units, rday, rmonth, rlimit =
    string.match(member, '^([^|]*)|(%d+)|([^|]*)|([^|]*)|(-?%d+)$')
  units, rlimit = tonumber(units), tonumber(rlimit)
  if rday == day then add(KEYS[4], -units, math.ceil(day_ends) + 3600) end
  if rmonth == month then add(KEYS[5], -units, math.ceil(month_ends) + 86400) end
  if rlimit > 0 then set_tat(KEYS[3], math.max(now, tat_of(KEYS[3]) - units * PERIOD / rlimit)) end
  redis.call('HDEL', KEYS[7], rid)
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now) end

if redis.call('HINCRBY', KEYS[8], 'requests', 1) == 1 then
  redis.call('EXPIRE', KEYS[8], usage_ttl)
end

local hit = nil
if ARGV[6] == '1' then
  local e = redis.call('HMGET', KEYS[9], 'body', 'stored_at', 'expires_at', 'images')
  if e[1] and tonumber(e[3]) > now then hit = e end
end

local function take(key, limit, units)
  if limit == 0 or units > limit then return false, nil, -1 end
  local tat = tat_of(key) + units * PERIOD / limit
  if tat - now <= PERIOD + EPS then return true, tat, 0 end
  return false, nil, tat - PERIOD - now
end

local outcome, by, retry, leader = nil, '', -1, '0'
if not hit then
  if ipd >= 0 and counter(KEYS[4]) + n > ipd then
    outcome, by = 'quota_exceeded', 'images_per_day'
    if n <= ipd then retry = day_ends end
  elseif ipmo >= 0 and counter(KEYS[5]) + n > ipmo then
    outcome, by = 'quota_exceeded', 'images_per_month'
    if n <= ipmo then retry = month_ends end
  end
end

local new_rpm, new_ipm = nil, nil
if not outcome then
  local checks = {}
  if rpm >= 0 then table.insert(checks, {KEYS[2], rpm, 1, 'rpm'}) end
  if ipm >= 0 and not hit then table.insert(checks, {KEYS[3], ipm, n, 'images_per_minute'}) end
  for _, c in ipairs(checks) do
    local ok, tat, wait = take(c[1], c[2], c[3])
    if ok then
      if c[4] == 'rpm' then new_rpm = tat else new_ipm = tat end
    elseif outcome == nil or wait < 0 or (retry >= 0 and wait > retry) then
      outcome, by, retry = 'rate_limited', c[4], wait
    end
  end
end

if outcome then
  redis.call('HINCRBY', KEYS[8], 'refused', 1)
else
  if new_rpm then set_tat(KEYS[2], new_rpm) end
  if hit then
    outcome = 'hit'
    redis.call('HINCRBY', KEYS[8], 'cache_hits', 1)
    redis.call('HINCRBY', KEYS[8], 'cached_images', tonumber(hit[4]))
  else
    outcome = 'admitted'
    if new_ipm then set_tat(KEYS[3], new_ipm) end
    add(KEYS[4], n, math.ceil(day_ends) + 3600)
    add(KEYS[5], n, math.ceil(month_ends) + 86400)
    local ttl = tonumber(ARGV[9])
    local member = ARGV[3] .. '|' .. n .. '|' .. day .. '|' .. month .. '|' .. ipm
    redis.call('ZADD', KEYS[6], now + ttl, member)
    redis.call('HSET', KEYS[7], ARGV[3], member)
    redis.call('EXPIRE', KEYS[6], math.ceil(ttl) + 120)
    redis.call('EXPIRE', KEYS[7], math.ceil(ttl) + 120)
    local lock_ms = tonumber(ARGV[7])
    if lock_ms > 0 and redis.call('SET', KEYS[10], ARGV[3], 'NX', 'PX', lock_ms) then
      leader = '1'
    end
  end
end

-- The state after the decision, for the x-ratelimit-* headers.
local function gcra_state(key, limit)
  if limit == 0 then return {0, 0, 0} end
  local used = math.max(0, tat_of(key) - now)
  local left = math.floor((PERIOD - used) / (PERIOD / limit) + EPS)
  return {limit, math.max(0, math.min(limit, left)), used}
end
local rs = {'', '', ''}
if rpm >= 0 then rs = gcra_state(KEYS[2], rpm) end
local images = nil
local function consider(s)
  if images == nil or s[2] < images[2] then images = s end
end
if ipm >= 0 then consider(gcra_state(KEYS[3], ipm)) end
if ipd >= 0 then consider({ipd, math.max(0, ipd - counter(KEYS[4])), day_ends}) end
if ipmo >= 0 then consider({ipmo, math.max(0, ipmo - counter(KEYS[5])), month_ends}) end
images = images or {'', '', ''}
local reply = {outcome, by, tostring(retry),
  tostring(rs[1]), tostring(rs[2]), tostring(rs[3]),
  tostring(images[1]), tostring(images[2]), tostring(images[3]), leader}
if hit then
  for _, v in ipairs(hit) do table.insert(reply, v) end
end
return reply
