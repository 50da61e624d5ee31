//! A cooldown value read back from Redis is outside input (LiteLLM writes Python's repr of a
//! dict, other writers JSON, anything else may be there): parsing any text must never panic,
//! and whatever parses must survive LiteLLM's own format and parse back to the same value.
#![no_main]

use fastllm_router::CooldownValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(value) = CooldownValue::parse(text) else {
        return;
    };
    // The methods a reader calls on a parsed value never panic, whatever its numbers.
    let _ = value.is_active_at(1.8e9);
    let _ = value.remaining_secs(1.8e9);
    let _ = value.redis_ttl_secs();
    let written = value.to_litellm_string();
    let again = CooldownValue::parse(&written).expect("a value in LiteLLM's own format parses");
    assert_eq!(again.to_litellm_string(), written, "the format round-trips");
});
