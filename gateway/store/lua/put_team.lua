-- Insert or replace a team record with its version and listing entry.
-- KEYS: 1 record, 2 version, 3 listing zset
-- ARGV: 1 record JSON, 2 version, 3 id, 4 created_at, 5 mode ('insert' | 'update')
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[5] == 'insert' then
  if exists then return 'conflict' end
elseif not exists then
  return 'missing'
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 'ok'
