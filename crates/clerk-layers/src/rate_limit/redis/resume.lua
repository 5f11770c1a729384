-- A worker comes back from its local fallback share. Shared bookings resume at one
-- time for everybody (`at`), late enough that every other worker has noticed Redis is
-- back and stopped spending its own share; per-user buckets resume one per-user window
-- later, when the users' fallback requests have left Clerk's window. The instance
-- bucket restarts without a burst, since the fallback shares may have just been spent.
--
-- KEYS[1] resume, KEYS[2] per-user resume, KEYS[3] instance bucket
-- ARGV[1] delay (us), ARGV[2] per-user window (us), ARGV[3] burst tolerance (us)
-- Returns how long until shared bookings resume (us).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local at = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if at > now then
  return at - now
end
local delay = tonumber(ARGV[1])
local user_window = tonumber(ARGV[2])
at = now + delay
redis.call('SET', KEYS[1], string.format('%.0f', at), 'PX', math.ceil(delay / 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%.0f', at + user_window), 'PX',
  math.ceil((delay + user_window) / 1000) + 1000)
local tat = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
local drained = at + tonumber(ARGV[3])
if tat < drained then
  redis.call('SET', KEYS[3], string.format('%.0f', drained), 'PX', math.ceil((drained - now) / 1000) + 1000)
end
return delay
