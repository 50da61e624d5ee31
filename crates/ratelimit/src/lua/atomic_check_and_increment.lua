-- fastllm-ratelimit: LiteLLM v3's `atomic_check_and_increment_by_n`, every descriptor in one
-- atomic call: either every counter stays within its limit and all are incremented, or
-- nothing is written. Time is the Redis server's (`TIME`), as in LiteLLM's script.
--
-- KEYS: per counter: its scope's window key, its counter key.
-- ARGV: per counter: limit, increment, counter TTL (s), window (s) (LiteLLM's layout).
-- Uses `number_at` from prelude.lua, which is prepended when the script is built.
-- Reply: { 0, new count, window start, new count, window start, ... } when applied;
--        { 1, counter index (1-based), its count before the call, its limit } when refused.
--
-- LiteLLM runs one script call per descriptor, each seeing the writes of the ones before it
-- (then refunds them when a later one is refused). Counters are therefore checked here in
-- order against the state the earlier ones would leave: the same verdicts for a scope that
-- appears twice, without partial writes to undo.
if redis.replicate_commands then redis.replicate_commands() end

local now = tonumber(redis.call('TIME')[1])
local n = #KEYS / 2

local function scope_of(window_key)
    return string.sub(window_key, 1, #window_key - #':window')
end

-- Pass 1: check, on a simulation of the writes pass 2 would make.
local starts = {}
local counts = {}
local function start_of(key)
    if starts[key] == nil then
        starts[key] = number_at(key)
    end
    return starts[key]
end
local function count_of(key)
    if counts[key] == nil then
        counts[key] = number_at(key)
    end
    return counts[key]
end
for i = 1, n do
    local window_key = KEYS[2 * i - 1]
    local counter_key = KEYS[2 * i]
    local base = (i - 1) * 4
    local limit = tonumber(ARGV[base + 1])
    local increment = tonumber(ARGV[base + 2])
    local window_size = tonumber(ARGV[base + 4])
    local start = start_of(window_key)
    local current
    if (not start) or (now - start >= window_size) then
        current = 0
        local scope = scope_of(window_key)
        starts[window_key] = now
        counts[scope .. ':requests'] = false
        counts[scope .. ':tokens'] = false
    else
        current = count_of(counter_key) or 0
    end
    local blocked
    if increment > 0 then
        blocked = current + increment > limit
    else
        blocked = current >= limit
    end
    if blocked then
        return { 1, i, current, limit }
    end
    counts[counter_key] = current + increment
end

-- Pass 2: apply, counter by counter.
local reply = { 0 }
for i = 1, n do
    local window_key = KEYS[2 * i - 1]
    local counter_key = KEYS[2 * i]
    local base = (i - 1) * 4
    local increment = tonumber(ARGV[base + 2])
    local ttl = tonumber(ARGV[base + 3])
    local window_size = tonumber(ARGV[base + 4])
    local start = number_at(window_key)
    local value
    if (not start) or (now - start >= window_size) then
        local scope = scope_of(window_key)
        redis.call('DEL', scope .. ':requests', scope .. ':tokens')
        redis.call('SET', window_key, tostring(now), 'EX', window_size)
        redis.call('SET', counter_key, increment)
        if ttl > 0 then
            redis.call('EXPIRE', counter_key, ttl)
        end
        value = increment
        start = now
    else
        value = redis.call('INCRBY', counter_key, increment)
        if ttl > 0 and redis.call('TTL', counter_key) == -1 then
            redis.call('EXPIRE', counter_key, ttl)
        end
    end
    reply[2 * i] = value
    reply[2 * i + 1] = start
end
return reply
