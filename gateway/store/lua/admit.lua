-- One admission decision, atomically, for a key and (optionally) its team, the "subjects":
-- freshness of each, reclaim of expired reservations, cache lookup, day/month image quotas
-- and USD budgets, per-minute GCRA limits, reservations and usage, all or nothing.
-- KEYS, per subject s = 0 (the key) and s = 1 (its team), at 10*s + 1 .. 10*s + 10:
--       1 version, 2 rpm TAT, 3 images-per-minute TAT, 4 day image counter,
--       5 month image counter, 6 day spend counter (nano-dollars), 7 month spend counter,
--       8 reservations (zset by expiry), 9 reservation details (hash), 10 usage of the day;
--       then the set of the day's usage hashes (which subjects made a request that day),
--       then the cache entry and its single-flight lock (the last two).
-- ARGV (what changes with every request first, then what stays for a key and a day):
--       1 now, 2 images, 3 reservation id, 4 seconds to day end, 5 seconds to month end,
--       6 look up the cache (1/0),
--       7 single-flight lock ttl in ms when admitted on a miss (0 = do not take it),
--       8 estimated cost in nano-dollars,
--       9 subjects (1 or 2), 10 reservation ttl, 11 day, 12 month, 13 usage ttl,
--       then per subject at 14 + 7*s: version, rpm, images/min, images/day, images/month,
--       USD/day, USD/month in nano-dollars (-1 = unlimited).
-- Reply: outcome, refusing limit, retry after, rpm limit/remaining/reset, image limit/
--       remaining/reset, leader (1/0), refusing level, what the refusing USD budget had
--       left in nano-dollars (-1: no budget refused), then the cache entry on a hit.
-- Nano-dollar counters stay below 2^53, so Lua's doubles hold them exactly.
local PERIOD = 60
local EPS = 1e-6
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cost = tonumber(ARGV[8])
local subjects = tonumber(ARGV[9])
local day, month = ARGV[11], ARGV[12]
local day_ends, month_ends = tonumber(ARGV[4]), tonumber(ARGV[5])
local usage_ttl = tonumber(ARGV[13])
local cache_key, lock_key = KEYS[#KEYS - 1], KEYS[#KEYS]
local active = KEYS[10 * subjects + 1]
local LEVELS = {'key', 'team'}

local S = {}
for s = 0, subjects - 1 do
  local k, a = 10 * s, 14 + 7 * s
  if redis.call('GET', KEYS[k + 1]) ~= ARGV[a] then return {'stale_key'} end
  S[s + 1] = {
    rpm_tat = KEYS[k + 2], ipm_tat = KEYS[k + 3], img_day = KEYS[k + 4],
    img_month = KEYS[k + 5], usd_day = KEYS[k + 6], usd_month = KEYS[k + 7],
    res = KEYS[k + 8], resinfo = KEYS[k + 9], usage = KEYS[k + 10],
    rpm = tonumber(ARGV[a + 1]), ipm = tonumber(ARGV[a + 2]), ipm_text = ARGV[a + 2],
    ipd = tonumber(ARGV[a + 3]), ipmo = tonumber(ARGV[a + 4]),
    upd = tonumber(ARGV[a + 5]), upmo = tonumber(ARGV[a + 6]),
    level = LEVELS[s + 1],
  }
end

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

-- A counter's name holds its day or month, so its expiry is set once, when this creates
-- it (the result is the delta itself) or resets it (SET drops the expiry). Arguments go
-- to Redis as strings where the script has them so (``text``, the delta as ARGV spells
-- it): a Lua number costs Redis a conversion on every call.
local function add(key, delta, ttl, text)
  local v = redis.call('INCRBY', key, text or delta)
  if v < 0 then
    redis.call('SET', key, '0', 'EX', ttl)
    v = 0
  elseif v == delta then
    redis.call('EXPIRE', key, ttl)
  end
  known[key] = v
end

local day_ttl, month_ttl = math.ceil(day_ends) + 3600, math.ceil(month_ends) + 86400
-- A reservation: id|images|day|month|images/min limit|nano-dollars (older ones lack the
-- last field: they reserved no money).
local MEMBER = '^([^|]*)|(%d+)|([^|]*)|([^|]*)|(-?%d+)|?(%d*)$'

-- Give back reservations whose gateway never settled them (crashed or hung).
for _, sub in ipairs(S) do
  local expired = redis.call('ZRANGEBYSCORE', sub.res, '-inf', now)
  for _, member in ipairs(expired) do
    local rid, units, rday, rmonth, rlimit, nanos = string.match(member, MEMBER)
    units, rlimit, nanos = tonumber(units), tonumber(rlimit), tonumber(nanos) or 0
    if rday == day then
      add(sub.img_day, -units, day_ttl)
      if nanos > 0 then add(sub.usd_day, -nanos, day_ttl) end
    end
    if rmonth == month then
      add(sub.img_month, -units, month_ttl)
      if nanos > 0 then add(sub.usd_month, -nanos, month_ttl) end
    end
    if rlimit > 0 then
      set_tat(sub.ipm_tat, math.max(now, tat_of(sub.ipm_tat) - units * PERIOD / rlimit))
    end
    redis.call('HDEL', sub.resinfo, rid)
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', sub.res, '-inf', now) end
  if redis.call('HINCRBY', sub.usage, 'requests', 1) == 1 then
    redis.call('EXPIRE', sub.usage, usage_ttl)
    redis.call('SADD', active, sub.usage)
    redis.call('EXPIRE', active, usage_ttl)
  end
end

local hit = nil
if ARGV[6] == '1' then
  local e = redis.call('HMGET', cache_key, 'body', 'stored_at', 'expires_at', 'images')
  if e[1] and tonumber(e[3]) > now then hit = e end
end

local function take(key, limit, units)
  if limit == 0 or units > limit then return false, nil, -1 end
  local tat = tat_of(key) + units * PERIOD / limit
  if tat - now <= PERIOD + EPS then return true, tat, 0 end
  return false, nil, tat - PERIOD - now
end

-- A budget refuses when the estimate does not fit, and once it is spent (a request the
-- price table prices at 0 included).
local function over(used, wanted, limit)
  return used + wanted > limit or used >= limit
end

-- ``left``: what the refusing budget had left (nano-dollars, reservations counted), -1
-- when no budget refused.
local outcome, by, level, retry, leader, left = nil, '', '', -1, '0', -1
if not hit then
  for _, sub in ipairs(S) do
    if sub.ipd >= 0 and counter(sub.img_day) + n > sub.ipd then
      outcome, by = 'quota_exceeded', 'images_per_day'
      if n <= sub.ipd then retry = day_ends end
    elseif sub.ipmo >= 0 and counter(sub.img_month) + n > sub.ipmo then
      outcome, by = 'quota_exceeded', 'images_per_month'
      if n <= sub.ipmo then retry = month_ends end
    elseif sub.upd >= 0 and over(counter(sub.usd_day), cost, sub.upd) then
      outcome, by = 'quota_exceeded', 'usd_per_day'
      left = math.max(0, sub.upd - counter(sub.usd_day))
      if cost <= sub.upd then retry = day_ends end
    elseif sub.upmo >= 0 and over(counter(sub.usd_month), cost, sub.upmo) then
      outcome, by = 'quota_exceeded', 'usd_per_month'
      left = math.max(0, sub.upmo - counter(sub.usd_month))
      if cost <= sub.upmo then retry = month_ends end
    end
    if outcome then
      level = sub.level
      break
    end
  end
end

local new_tats = {}
if not outcome then
  for _, sub in ipairs(S) do
    local checks = {}
    if sub.rpm >= 0 then table.insert(checks, {sub.rpm_tat, sub.rpm, 1, 'rpm'}) end
    if sub.ipm >= 0 and not hit then
      table.insert(checks, {sub.ipm_tat, sub.ipm, n, 'images_per_minute'})
    end
    for _, c in ipairs(checks) do
      local ok, tat, wait = take(c[1], c[2], c[3])
      if ok then
        table.insert(new_tats, {c[1], tat})
      elseif outcome == nil or wait < 0 or (retry >= 0 and wait > retry) then
        outcome, by, level, retry = 'rate_limited', c[4], sub.level, wait
      end
    end
  end
end

if outcome then
  for _, sub in ipairs(S) do redis.call('HINCRBY', sub.usage, 'refused', 1) end
else
  for _, t in ipairs(new_tats) do set_tat(t[1], t[2]) end
  if hit then
    outcome = 'hit'
    for _, sub in ipairs(S) do
      redis.call('HINCRBY', sub.usage, 'cache_hits', 1)
      redis.call('HINCRBY', sub.usage, 'cached_images', tonumber(hit[4]))
    end
  else
    outcome = 'admitted'
    local ttl = tonumber(ARGV[10])
    -- Whole seconds: Redis keeps an integer score as an integer (a fractional one as text
    -- that every later insert and range parses again).
    local expires_at, kept = tostring(math.ceil(now + ttl)), tostring(math.ceil(ttl) + 120)
    for _, sub in ipairs(S) do
      add(sub.img_day, n, day_ttl, ARGV[2])
      add(sub.img_month, n, month_ttl, ARGV[2])
      add(sub.usd_day, cost, day_ttl, ARGV[8])
      add(sub.usd_month, cost, month_ttl, ARGV[8])
      local member = table.concat({ARGV[3], ARGV[2], day, month, sub.ipm_text, ARGV[8]}, '|')
      redis.call('ZADD', sub.res, expires_at, member)
      redis.call('HSET', sub.resinfo, ARGV[3], member)
      redis.call('EXPIRE', sub.res, kept)
      redis.call('EXPIRE', sub.resinfo, kept)
    end
    local lock_ms = tonumber(ARGV[7])
    if lock_ms > 0 and redis.call('SET', lock_key, ARGV[3], 'NX', 'PX', lock_ms) then
      leader = '1'
    end
  end
end

-- The state after the decision, for the x-ratelimit-* headers: the tightest request
-- limit and the tightest image limit of the key and its team.
local function gcra_state(key, limit)
  if limit == 0 then return {0, 0, 0} end
  local used = math.max(0, tat_of(key) - now)
  local left = math.floor((PERIOD - used) / (PERIOD / limit) + EPS)
  return {limit, math.max(0, math.min(limit, left)), used}
end
local requests, images = nil, nil
local function tighter(best, s)
  if best == nil or s[2] < best[2] then return s end
  return best
end
for _, sub in ipairs(S) do
  if sub.rpm >= 0 then requests = tighter(requests, gcra_state(sub.rpm_tat, sub.rpm)) end
  if sub.ipm >= 0 then images = tighter(images, gcra_state(sub.ipm_tat, sub.ipm)) end
  if sub.ipd >= 0 then
    images = tighter(images, {sub.ipd, math.max(0, sub.ipd - counter(sub.img_day)), day_ends})
  end
  if sub.ipmo >= 0 then
    images = tighter(images,
      {sub.ipmo, math.max(0, sub.ipmo - counter(sub.img_month)), month_ends})
  end
end
requests, images = requests or {'', '', ''}, images or {'', '', ''}
local reply = {outcome, by, tostring(retry),
  tostring(requests[1]), tostring(requests[2]), tostring(requests[3]),
  tostring(images[1]), tostring(images[2]), tostring(images[3]), leader, level, left}
if hit then
  for _, v in ipairs(hit) do table.insert(reply, v) end
end
return reply
