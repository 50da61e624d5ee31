-- fastllm-ratelimit: LiteLLM v3's `should_rate_limit` for a whole request, in one atomic call.
--
-- Keys and values are LiteLLM's: `{key:value}:window` holds the window start (epoch seconds,
-- as a decimal string), `{key:value}:requests` / `:tokens` the counts, both with the window as
-- TTL; `{key:value}:max_parallel_requests` is a sorted set of slot ids scored by acquire time
-- (epoch seconds), with the slot TTL as key TTL. Time is the Redis server's (`TIME`).
--
-- KEYS: per windowed counter, in LiteLLM's order: its scope's window key, its counter key;
--       then one gauge key per `max_parallel_requests` descriptor.
-- ARGV: [1] '1' = read only, '0' = count   [2] the limiter's window (s)
--       [3] number of counters   [4] number of gauges   [5] slot TTL (s)   [6] slot id
--       [7] '1' = no pre-check when counting (the caller pre-checked its own mirror, as a
--       LiteLLM process does), '0' = pre-check here
--       then one limit per counter (-1: the counter is not judged), then one per gauge.
-- Uses `number_at` from prelude.lua, which is prepended when the script is built.
-- Reply: { code, one value per counter (false = no key), ... }
--   1: a counter is already over its limit (LiteLLM's pre-check): values before the call,
--      nothing was written;
--   2: every counter was counted and one is now over: values after, the gauges untouched;
--   3: counted, but gauge j is full: values after, then j and that gauge's in-flight count;
--   0: admitted, or read only and not over: values (after counting, or as read), then one
--      in-flight count per gauge (after acquiring the slot, or as read).
if redis.replicate_commands then redis.replicate_commands() end

local read_only = ARGV[1] == '1'
local window_size = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local g = tonumber(ARGV[4])
local slot_ttl = tonumber(ARGV[5])
local slot_id = ARGV[6]
local prechecked = ARGV[7] == '1' and not (ARGV[1] == '1')
local now = tonumber(redis.call('TIME')[1])

-- 1. Judge the counts as they are: refuse, writing nothing, if one is already over (unless the
--    caller pre-checked its mirror instead).
local pending = 0
if read_only then
    pending = 1
end
local reply = { 0 }
local over = false
for i = 1, n do
    local value = number_at(KEYS[2 * i])
    reply[i + 1] = value
    local limit = tonumber(ARGV[7 + i])
    if value and limit >= 0 and value + pending > limit and not prechecked then
        over = true
    end
end
if over then
    reply[1] = 1
    return reply
end

-- 2. Count the request on every counter (LiteLLM's batch rate limiter script): a missing or
--    expired window restarts at `now`, clearing both counters of its scope.
if not read_only then
    for i = 1, n do
        local window_key = KEYS[2 * i - 1]
        local counter_key = KEYS[2 * i]
        local start = number_at(window_key)
        local count
        if (not start) or (now - start >= window_size) then
            local scope = string.sub(window_key, 1, #window_key - #':window')
            redis.call('DEL', scope .. ':requests', scope .. ':tokens')
            redis.call('SET', window_key, tostring(now), 'EX', window_size)
            redis.call('SET', counter_key, 1, 'EX', window_size)
            count = 1
        else
            count = redis.call('INCR', counter_key)
            if redis.call('TTL', counter_key) == -1 then
                redis.call('EXPIRE', counter_key, window_size)
            end
        end
        reply[i + 1] = count
        local limit = tonumber(ARGV[7 + i])
        if limit >= 0 and count > limit then
            over = true
        end
    end
    if over then
        reply[1] = 2
        return reply
    end
end

-- 3. The max-parallel-requests gauges (LiteLLM's parallel acquire / count scripts): drop
--    slots older than the slot TTL, then take a slot on every gauge or on none.
local in_flight = {}
for j = 1, g do
    local key = KEYS[2 * n + j]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - slot_ttl)
    local count = redis.call('ZCARD', key)
    if (not read_only) and count + 1 > tonumber(ARGV[7 + n + j]) then
        reply[1] = 3
        reply[n + 2] = j
        reply[n + 3] = count
        return reply
    end
    in_flight[j] = count
end
for j = 1, g do
    if not read_only then
        local key = KEYS[2 * n + j]
        redis.call('ZADD', key, now, slot_id)
        redis.call('EXPIRE', key, slot_ttl)
        in_flight[j] = redis.call('ZCARD', key)
    end
    reply[n + 1 + j] = in_flight[j]
end
return reply
