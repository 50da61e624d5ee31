//! The LiteLLM boundary: adapters that read and write LiteLLM's own Python state (its
//! in-memory cache, its v3 limiter's keyspace) and decide with `fastllm-ratelimit`'s rules.
//!
//! * [`keyspace`]: the 1.110 line's v3 limiter keyspace held in Rust, and its
//!   `should_rate_limit` / atomic check-and-increment decided in one call.
//! * [`v3dual`]: the 1.109 line's v3 `should_rate_limit` on LiteLLM's `DualCache`.
//! * [`cache_steps`]: `InMemoryCache`'s `get_cache` / `increment_cache` steps, run natively.
//! * [`router_pick`]: the router's picks over LiteLLM's deployments and its usage caches,
//!   decided by `fastllm-router`'s strategy functions.
//! * [`router_check`]: the router's `ModelRateLimitingCheck` and usage-based-v2 checks.

pub(crate) mod cache_steps;
pub(crate) mod keyspace;
pub(crate) mod router_check;
pub(crate) mod router_pick;
pub(crate) mod v3dual;
