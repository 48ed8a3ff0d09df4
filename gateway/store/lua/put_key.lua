-- Insert or replace a key record with its hash index, version, listing entry, its place
-- among its team's keys that are not revoked, and its entries in the key index.
-- KEYS: 1 record, 2 version, 3 hash index of the new hash, 4 listing zset,
--       5 hash index of the old hash (or the same as 3), 6 the old team's key set,
--       7 the new team's key set, 8 the new team's record, 9 the key index (a zset of
--       entries, all scored 0), 10 each key's index entries (a hash: id -> JSON array),
--       11 the mark that every key is in the index (set by the first key of a new store)
-- ARGV: 1 record JSON, 2 version, 3 id, 4 created_at, 5 mode ('insert' | 'update'),
--       6 the key is in a team and not revoked (1/0), 7... the record's index entries
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[5] == 'insert' then
  if exists or redis.call('EXISTS', KEYS[3]) == 1 then return 'conflict' end
elseif not exists then
  return 'missing'
end
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[8]) == 0 then return 'no_team' end
if KEYS[5] ~= KEYS[3] then redis.call('DEL', KEYS[5]) end
if redis.call('ZCARD', KEYS[4]) == 0 then redis.call('SET', KEYS[11], 1) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('SREM', KEYS[6], ARGV[3])
if ARGV[6] == '1' then redis.call('SADD', KEYS[7], ARGV[3]) end
local old = redis.call('HGET', KEYS[10], ARGV[3])
if old then
  for _, entry in ipairs(cjson.decode(old)) do redis.call('ZREM', KEYS[9], entry) end
end
local entries = {}
for i = 7, #ARGV do
  entries[#entries + 1] = ARGV[i]
  redis.call('ZADD', KEYS[9], 0, ARGV[i])
end
redis.call('HSET', KEYS[10], ARGV[3], cjson.encode(entries))
return 'ok'
