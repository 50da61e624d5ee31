-- fastllm-ratelimit: LiteLLM v3's window-guarded token increment: add to the counter only
-- if its scope's open window is still the one the reservation was charged in.
-- KEYS: [1] window key  [2] counter key.
-- ARGV: [1] expected window start (as stored)  [2] amount  [3] TTL (s; 0 = none).
-- Reply: { 1, new value } when applied, { 0, current value or 0 } when the window moved on.
local start = redis.call('GET', KEYS[1])
if start and start == ARGV[1] then
    local value = redis.call('INCRBY', KEYS[2], ARGV[2])
    local ttl = tonumber(ARGV[3])
    if ttl > 0 and redis.call('TTL', KEYS[2]) == -1 then
        redis.call('EXPIRE', KEYS[2], ttl)
    end
    return { 1, value }
end
return { 0, tonumber(redis.call('GET', KEYS[2]) or 0) }
