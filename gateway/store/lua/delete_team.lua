-- Delete a team unless a key that is not revoked is still in it (checked in the same step
-- as put_key adds one, so a key cannot join a team being deleted).
-- KEYS: 1 record, 2 version, 3 listing zset, 4 the team's key set; ARGV: 1 id
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('SCARD', KEYS[4]) > 0 then return 'in_use' end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
redis.call('ZREM', KEYS[3], ARGV[1])
return 'ok'
