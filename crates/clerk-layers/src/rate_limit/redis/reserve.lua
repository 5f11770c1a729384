-- Books one slot of a GCRA bucket and says how long the caller waits for it.
--
-- KEYS[1] bucket: the theoretical arrival time (TAT), server microseconds
-- KEYS[2] cooldown: nothing is booked before this server time (a 429 was seen)
-- KEYS[3] resume: nothing is booked before this server time (a worker is back from fallback)
-- KEYS[4] workers: sorted set of live workers, scored by their last call
-- ARGV[1] period T (us), ARGV[2] burst tolerance (B - 1) * T (us),
-- ARGV[3] booking horizon (us), ARGV[4] worker id, ARGV[5] worker liveness (us)
--
-- Returns {booked (1/0), wait (us), live workers}: when booked, the caller sends
-- `wait` after now; when not (the slot lies beyond the horizon), it asks again
-- after `wait`. Times come from the server's clock, so callers on machines with
-- different clocks share one timeline.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local liveness = tonumber(ARGV[5])

redis.call('ZADD', KEYS[4], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - liveness)
redis.call('PEXPIRE', KEYS[4], math.ceil(liveness / 1000))
local workers = redis.call('ZCARD', KEYS[4])

local earliest = now
local cooldown = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if cooldown > earliest then earliest = cooldown end
local resume = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if resume > earliest then earliest = resume end

local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local slot = tat - tolerance
if slot < earliest then slot = earliest end
if slot - now > horizon then
  return {0, slot - horizon - now, workers}
end
if tat < slot then tat = slot end
tat = tat + period
-- The key outlives its TAT by a second; after that it is indistinguishable from a fresh one.
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {1, slot - now, workers}
