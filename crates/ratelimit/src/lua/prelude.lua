-- fastllm-ratelimit: helpers shared by the scripts; prepended to each script that uses them.

-- The number stored at `key`, or false when the key does not exist.
local function number_at(key)
    local raw = redis.call('GET', key)
    if not raw then
        return false
    end
    local value = tonumber(raw)
    if not value then
        error('fastllm-ratelimit: ' .. key .. ' does not hold a number')
    end
    return value
end

