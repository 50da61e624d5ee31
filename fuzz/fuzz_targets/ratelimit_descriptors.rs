//! Rate-limit descriptors come from key, team and user settings: outside input. Any JSON list
//! of LiteLLM-shaped descriptors must parse without panicking, and checks on what parses must
//! never admit past a request limit within one window.
#![no_main]

use fastllm_ratelimit::{
    CheckOptions, Config, Descriptor, FakeClock, KeyTtl, Limits, MemoryStore, coalesce_descriptors,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn int(limits: &Value, field: &str) -> Option<i64> {
    limits.get(field).and_then(Value::as_i64)
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut descriptors = Vec::new();
    for item in items.iter().take(8) {
        let (Some(key), Some(value)) = (
            item.get("key").and_then(Value::as_str),
            item.get("value").and_then(Value::as_str),
        ) else {
            continue;
        };
        let rate_limit = item.get("rate_limit").cloned().unwrap_or(Value::Null);
        let Ok(limits) = Limits::from_litellm(
            int(&rate_limit, "requests_per_unit"),
            int(&rate_limit, "tokens_per_unit"),
            int(&rate_limit, "max_parallel_requests"),
            int(&rate_limit, "window_size"),
        ) else {
            continue;
        };
        if let Ok(descriptor) = Descriptor::new(key, value, limits) {
            descriptors.push(descriptor);
        }
    }
    let descriptors = coalesce_descriptors(&descriptors);
    if descriptors.is_empty() {
        return;
    }
    let config = Config {
        key_ttl: KeyTtl::Never,
        ..Config::default()
    };
    let Ok(store) = MemoryStore::with_config(config, FakeClock::at_secs(1_000)) else {
        return;
    };
    let options = CheckOptions {
        skip_parallel_check: true,
        ..CheckOptions::default()
    };
    let mut admitted = 0u64;
    for _ in 0..16 {
        if store.should_rate_limit(&descriptors, &options).response.is_ok() {
            admitted += 1;
        }
    }
    // The clock never moves: one window. Nothing is admitted past the tightest request limit.
    if let Some(limit) = descriptors.iter().filter_map(Descriptor::requests_per_unit).min() {
        assert!(admitted <= limit, "admitted {admitted} with a limit of {limit}");
    }
});
