-- Release a single-flight lock if the caller still holds it, and wake every waiter.
-- KEYS: 1 lock; ARGV: 1 token, 2 channel
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
