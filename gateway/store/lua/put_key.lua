-- Insert or replace a key record with its hash index, version and listing entry.
-- KEYS: 1 record, 2 version, 3 hash index of the new hash, 4 listing zset,
--       5 hash index of the old hash (or the same as 3)
-- ARGV: 1 record JSON, 2 version, 3 id, 4 created_at, 5 mode ('insert' | 'update')
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[5] == 'insert' then
  if exists or redis.call('EXISTS', KEYS[3]) == 1 then return 'conflict' end
elseif not exists then
  return 'missing'
end
if KEYS[5] ~= KEYS[3] then redis.call('DEL', KEYS[5]) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
return 'ok'
