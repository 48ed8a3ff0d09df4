-- Append a batch to a capped log stream and trim it to its cap, in one round trip.
-- KEYS: 1 the stream. ARGV: 1 the cap (entries); 2 "ms,length," for each entry, in order;
-- 3 the entries' bodies, one after another (one argument, so a batch of hundreds costs
-- the gateway three arguments to pack rather than two per entry).
-- An entry is added at its own millisecond while the stream allows it; once the stream's
-- newest id is ahead of the batch (another replica's clock), the rest take Redis's own ids.
local stream = KEYS[1]
local bodies = ARGV[3]
local at = 1
local added = 0
local behind = false
for ms, length in string.gmatch(ARGV[2], '(%d+),(%d+),') do
  local body = string.sub(bodies, at, at + tonumber(length) - 1)
  at = at + tonumber(length)
  if not behind then
    local id = redis.pcall('XADD', stream, ms .. '-*', 'd', body)
    if type(id) == 'table' and id.err then
      behind = true
    end
  end
  if behind then
    redis.call('XADD', stream, '*', 'd', body)
  end
  added = added + 1
end
redis.call('XTRIM', stream, 'MAXLEN', tonumber(ARGV[1]))
return added
