-- One bounded step of a filtered read of a log stream, newest first: walk at most ARGV[2]
-- entries below ARGV[1] ("+" or "(<id>") and return those whose body holds every needle,
-- stopping early after ARGV[3] of them. Only matches cross the network.
-- KEYS: 1 the stream. ARGV: 1 upper bound, 2 entries to walk, 3 matches wanted, 4.. needles.
-- Returns {last id walked (or ""), entries walked, 1 when the stream ended, id, body, ...}.
local rows = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', tonumber(ARGV[2]))
local wanted = tonumber(ARGV[3])
local out = {'', 0, 0}
local found = 0
for i, row in ipairs(rows) do
  local body = row[2][2]
  local matches = true
  for n = 4, #ARGV do
    if not string.find(body, ARGV[n], 1, true) then
      matches = false
      break
    end
  end
  out[1] = row[1]
  out[2] = i
  if matches then
    out[#out + 1] = row[1]
    out[#out + 1] = body
    found = found + 1
    if found == wanted then
      return out
    end
  end
end
if #rows < tonumber(ARGV[2]) then
  out[3] = 1
end
return out
