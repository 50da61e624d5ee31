//! LiteLLM's cache key names for the router's state, for the state shared on Redis
//! (`RedisState`, feature `redis`) and for checking against LiteLLM.

use crate::clock::Minute;
use crate::litellm::MinuteLabels;

/// Usage-based v1 tokens: `{group}:tpm:{HH-MM}` (local time).
#[must_use]
pub fn v1_tpm(group: &str, minute: Minute) -> String {
    format!("{group}:tpm:{}", minute.hh_mm())
}

/// Usage-based v1 requests: `{group}:rpm:{HH-MM}` (local time).
#[must_use]
pub fn v1_rpm(group: &str, minute: Minute) -> String {
    format!("{group}:rpm:{}", minute.hh_mm())
}

/// Usage-based v2 tokens: `{id}:{model}:tpm:{HH-MM}` (UTC).
#[must_use]
pub fn v2_tpm(id: &str, model: &str, minute: Minute) -> String {
    format!("{id}:{model}:tpm:{}", minute.hh_mm())
}

/// Usage-based v2 requests: `{id}:{model}:rpm:{HH-MM}` (UTC).
#[must_use]
pub fn v2_rpm(id: &str, model: &str, minute: Minute) -> String {
    format!("{id}:{model}:rpm:{}", minute.hh_mm())
}

/// Least-busy in-flight count: `{group}_request_count:{id}`.
#[must_use]
pub fn least_busy(group: &str, id: &str) -> String {
    format!("{group}_request_count:{id}")
}

/// Latency map: `{group}_map`.
#[must_use]
pub fn latency_map(group: &str) -> String {
    format!("{group}_map")
}

/// Cost map: `cost_map:{group}`.
#[must_use]
pub fn cost_map(group: &str) -> String {
    format!("cost_map:{group}")
}

/// Cooldown entry: `deployment:{id}:cooldown`.
#[must_use]
pub fn cooldown(id: &str) -> String {
    format!("deployment:{id}:cooldown")
}

/// Success counter: `{id}:successes`.
#[must_use]
pub fn successes(id: &str) -> String {
    format!("{id}:successes")
}

/// Failure counter: `{id}:fails`.
#[must_use]
pub fn failures(id: &str) -> String {
    format!("{id}:fails")
}

/// least-busy's held picks of a deployment (LiteLLM 1.110): `least_busy_reservations:{id}`.
#[must_use]
pub fn least_busy_reservations(id: &str) -> String {
    format!("least_busy_reservations:{id}")
}
