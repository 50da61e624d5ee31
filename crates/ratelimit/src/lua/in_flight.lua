-- fastllm-ratelimit: LiteLLM v3's parallel count script: drop slots older than the slot TTL,
-- then count what is left, by the Redis server's clock.
-- KEYS: gauge keys.  ARGV: the slot TTL (s) for each.  Reply: each gauge's in-flight count.
if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(redis.call('TIME')[1])
local reply = {}
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - tonumber(ARGV[i]))
    reply[i] = redis.call('ZCARD', KEYS[i])
end
return reply
