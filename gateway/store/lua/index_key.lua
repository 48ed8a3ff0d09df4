-- Add a key written before the key index existed to it, unless a write has indexed it since.
-- KEYS: 1 the key index zset, 2 each key's index entries (hash); ARGV: 1 id, 2... its entries
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local entries = {}
for i = 2, #ARGV do
  entries[#entries + 1] = ARGV[i]
  redis.call('ZADD', KEYS[1], 0, ARGV[i])
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(entries))
return 1
