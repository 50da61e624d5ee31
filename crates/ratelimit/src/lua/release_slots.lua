-- fastllm-ratelimit: LiteLLM v3's parallel release script: remove exactly this request's slot
-- id from each gauge (removing an absent id does nothing, so a repeated release never frees
-- another request's slot).
-- KEYS: gauge keys.  ARGV: the slot id for each.  Reply: each gauge's remaining size.
local reply = {}
for i = 1, #KEYS do
    redis.call('ZREM', KEYS[i], ARGV[i])
    reply[i] = redis.call('ZCARD', KEYS[i])
end
return reply
