-- fastllm-ratelimit: LiteLLM v3's token increment script (settling a TPM reservation):
-- add to each counter whatever window is open, giving a key without a TTL the one passed.
-- KEYS: counter keys.  ARGV: per key: amount, TTL (s; 0 = none).
-- Reply: the new value of each counter (INCRBYFLOAT, like LiteLLM, so the stored text is
-- the same).
local reply = {}
for i = 1, #KEYS do
    local value = redis.call('INCRBYFLOAT', KEYS[i], ARGV[2 * i - 1])
    local ttl = tonumber(ARGV[2 * i])
    if ttl > 0 and redis.call('TTL', KEYS[i]) == -1 then
        redis.call('EXPIRE', KEYS[i], ttl)
    end
    reply[i] = tonumber(value)
end
return reply
