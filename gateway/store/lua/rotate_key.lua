-- Give a key a new secret, unless its record changed since the caller read it.
-- KEYS: 1 record, 2 version, 3 hash index of the new hash, 4 hash index of the stored
--       record's hash (the previous one from now on), 5 hash index of the stored record's
--       own previous hash (or the same as 4)
-- ARGV: 1 record JSON, 2 new version, 3 id, 4 the version the caller read,
--       5 milliseconds the previous hash keeps finding the key (0: not at all)
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 'conflict' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'conflict' end
if KEYS[5] ~= KEYS[4] then redis.call('DEL', KEYS[5]) end
if tonumber(ARGV[5]) > 0 then
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
else
  redis.call('DEL', KEYS[4])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return 'ok'
