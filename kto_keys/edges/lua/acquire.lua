-- Acquire: may this key take one call for this operation now? One round trip, atomic.
-- It re-checks every shared fact a key's fate depends on, in the order of the pool's one rule
-- (kto_keys/core/pool.py, _survey), and when none refuses, counts the call and hands out a lease
-- with a deadline. Thresholds come from the settings as arguments, never from this file.
--
-- ARGV: prefix, fingerprint, operation, limit (this key's calls per operation and day),
--       lease id, lease time-to-live (ms), probe ("1": a recovery probe of a deactivated key)
-- Returns {"ok", deadline_ms, used, day, now_ms}
--      or {refusal, until_ms or "", used, cause, code, now_ms}
local prefix, fp, op = ARGV[1], ARGV[2], ARGV[3]
local limit, lease, ttl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local probe = ARGV[7] == "1"

-- The server's clock, in Korea time: every host counts the same day.
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local day = math.floor((now + 32400000) / 86400000)
local day_ends = (day + 2) * 86400000 - 32400000 -- a day's keys live until the next day ends

local fate = prefix .. "k:" .. fp
local f = redis.call("HMGET", fate, "disabled", "deactivated_at", "pause_until", "cause", "code")
if f[1] == "1" then
  return {"disabled", "", 0, "", "", tostring(now)}
end
if f[2] and not probe then
  return {"deactivated", f[2], 0, f[4] or "", f[5] or "", tostring(now)}
end
local cooling = redis.call("HGET", prefix .. "cd:" .. day .. ":" .. fp, op)
if cooling and tonumber(cooling) > now then
  return {"cooling", cooling, 0, "", "", tostring(now)}
end
local usage = prefix .. "u:" .. day .. ":" .. fp
local used = tonumber(redis.call("HGET", usage, op) or "0")
if used >= limit then
  return {"quota_spent", "", used, "", "", tostring(now)}
end
if f[3] and tonumber(f[3]) > now then
  return {"paused", f[3], used, "", "", tostring(now)}
end

-- Leases of calls in flight; one past its deadline belonged to a process that died: healed.
local leases = prefix .. "l:" .. fp
local held = redis.call("HGETALL", leases)
local live, soonest = 0, nil
for i = 1, #held, 2 do
  local deadline = tonumber(string.match(held[i + 1], "^(%d+)"))
  if deadline <= now then
    redis.call("HDEL", leases, held[i])
  else
    live = live + 1
    if soonest == nil or deadline < soonest then soonest = deadline end
  end
end
if probe then
  -- One recovery probe per key at a time, on whichever host asks first.
  if not redis.call("SET", prefix .. "probe:" .. fp, lease, "NX", "PX", ttl) then
    local left = redis.call("PTTL", prefix .. "probe:" .. fp)
    return {"busy", tostring(now + math.max(left, 0)), used, "", "", tostring(now)}
  end
elseif live > 0 and redis.call("SISMEMBER", prefix .. "p:" .. day .. ":" .. op, fp) == 0 then
  -- Until it answers this operation once today, a key carries one call at a time, over all
  -- processes: a dead key costs one call.
  return {"busy", tostring(soonest), used, "", "", tostring(now)}
end

used = redis.call("HINCRBY", usage, op, 1)
redis.call("PEXPIREAT", usage, day_ends)
local deadline = now + ttl
redis.call("HSET", leases, lease, deadline .. "|" .. op .. "|" .. day .. "|" .. (probe and "1" or "0"))
redis.call("HINCRBY", fate, "total_calls", 1)
if redis.call("HEXISTS", fate, "first_seen") == 0 then
  redis.call("HSET", fate, "first_seen", now)
end
return {"ok", tostring(deadline), used, day, tostring(now)}
