-- Record: apply one call's outcome, as the pool judged it, to the shared state. One round trip,
-- atomic, idempotent: a lease is recorded once, and a record retried (or replayed from the
-- journal) changes nothing more. The facts come from kto_keys/core/shared.py (record_facts);
-- times are durations from now, added to the server's clock.
--
-- ARGV: prefix, facts (JSON)
-- Returns {1 recorded or 0 already recorded, consecutive errors of the key}
local prefix = ARGV[1]
local facts = cjson.decode(ARGV[2])
local fp, op, day = facts.fp, facts.op, facts.day
local fate = prefix .. "k:" .. fp

local done = prefix .. "done:" .. facts.lease
if redis.call("SET", done, "1", "NX", "PX", 172800000) == false then
  return {0, tonumber(redis.call("HGET", fate, "consecutive_errors") or "0")}
end

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local day_ends = (day + 2) * 86400000 - 32400000

redis.call("HDEL", prefix .. "l:" .. fp, facts.lease)
if facts.probe and redis.call("GET", prefix .. "probe:" .. fp) == facts.lease then
  redis.call("DEL", prefix .. "probe:" .. fp)
end
local usage = prefix .. "u:" .. day .. ":" .. fp
if facts.unsent then
  -- Nothing left the machine: the call is given back.
  if tonumber(redis.call("HGET", usage, op) or "0") > 0 then
    redis.call("HINCRBY", usage, op, -1)
    redis.call("HINCRBY", fate, "total_calls", -1)
  end
  return {1, tonumber(redis.call("HGET", fate, "consecutive_errors") or "0")}
end
if facts.extra then
  -- The HTTP library sent the request again on its own: the gateway counted each send.
  redis.call("HINCRBY", usage, op, facts.extra)
  redis.call("HINCRBY", fate, "total_calls", facts.extra)
  redis.call("PEXPIREAT", usage, day_ends)
end
local proven = prefix .. "p:" .. day .. ":" .. op
if facts.success then
  redis.call("HINCRBY", fate, "total_successes", 1)
  redis.call("HSET", fate, "last_success", now)
  redis.call("HDEL", fate, "error_wait_until")
  redis.call("HDEL", prefix .. "cd:" .. day .. ":" .. fp, op)
elseif facts.failed then
  redis.call("HINCRBY", fate, "total_errors", 1)
end
if facts.proven == "add" then
  redis.call("SADD", proven, fp)
  redis.call("PEXPIREAT", proven, day_ends)
elseif facts.proven == "remove" then
  redis.call("SREM", proven, fp)
end
if facts.errors ~= nil then
  redis.call("HSET", fate, "consecutive_errors", facts.errors)
elseif facts.errors_add ~= nil then
  redis.call("HINCRBY", fate, "consecutive_errors", facts.errors_add)
end
if facts.deactivate ~= nil then
  -- The first deactivation stands: another host's earlier verdict keeps its time and cause.
  if redis.call("HEXISTS", fate, "deactivated_at") == 0 then
    redis.call("HSET", fate, "deactivated_at", now, "cause", facts.deactivate.cause,
      "code", facts.deactivate.code)
  end
  redis.call("HDEL", fate, "error_wait_until")
elseif facts.reactivate then
  redis.call("HDEL", fate, "deactivated_at", "cause", "code", "reason", "disabled",
    "error_wait_until")
  redis.call("HSET", fate, "consecutive_errors", 0)
end
if facts.cooldown_ms ~= nil then
  local cooldowns = prefix .. "cd:" .. day .. ":" .. fp
  redis.call("HSET", cooldowns, op, now + facts.cooldown_ms)
  redis.call("PEXPIREAT", cooldowns, day_ends)
end
if facts.pause_ms ~= nil then
  local pause = now + facts.pause_ms
  local before = tonumber(redis.call("HGET", fate, "pause_until") or "0")
  if pause > before then redis.call("HSET", fate, "pause_until", pause) end
end
if facts.error_wait_ms ~= nil then
  if facts.error_wait_ms == 0 then
    redis.call("HDEL", fate, "error_wait_until")
  else
    redis.call("HSET", fate, "error_wait_until", now + facts.error_wait_ms)
  end
end
if facts.last_error ~= nil then
  local e = facts.last_error
  e.at = now
  redis.call("HSET", fate, "last_error", cjson.encode(e))
end
if facts.latency ~= nil then
  redis.call("HSET", fate, "latency_ms_avg", facts.latency)
end
if facts.blamed ~= nil then
  for _, other in ipairs(facts.blamed) do
    local other_fate = prefix .. "k:" .. other
    if redis.call("HEXISTS", other_fate, "deactivated_at") == 0 then
      redis.call("HSET", other_fate, "deactivated_at", now, "cause", "too_many_errors")
    end
  end
end
return {1, tonumber(redis.call("HGET", fate, "consecutive_errors") or "0")}
