-- Starts (or lengthens) the shared 429 cooldown: nothing is booked before now + pause.
-- KEYS[1] cooldown, ARGV[1] pause (us). Returns the remaining cooldown (us).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current < untl then
  redis.call('SET', KEYS[1], string.format('%.0f', untl), 'PX', math.ceil((untl - now) / 1000) + 1000)
  return untl - now
end
return current - now
