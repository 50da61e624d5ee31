//! The LiteLLM boundary of fastllm's Python bindings (unpublished): adapters that read and
//! write LiteLLM's own Python state (its in-memory cache, its v3 limiter's keyspace, its
//! router's deployments and usage caches), decide with the fastllm crates' rules, and write
//! back what LiteLLM writes. The `fastllm_litellm._native` extension (crates/py) registers the
//! classes re-exported here.
//!
//! * [`keyspace`]: the 1.110 line's v3 limiter keyspace held in Rust, and its
//!   `should_rate_limit` / atomic check-and-increment decided in one call.
//! * [`v3dual`]: the 1.109 line's v3 `should_rate_limit` on LiteLLM's `DualCache`.
//! * [`cache_steps`]: `InMemoryCache`'s `get_cache` / `increment_cache` steps, run natively.
//! * [`router_pick`]: the router's picks over LiteLLM's deployments and its usage caches,
//!   decided by `fastllm-router`'s strategy functions.
//! * [`router_check`]: the router's `ModelRateLimitingCheck` and usage-based-v2 checks.
//!
//! The helpers every adapter shares each sit in one file: [`stats`] (calls and fallbacks per
//! feature), [`clock`] (the wall clock LiteLLM reads), [`awaitable`] (an already-finished
//! awaitable) and [`handback`] (why a call goes back to LiteLLM).

pub mod awaitable;
pub mod cache_steps;
pub mod clock;
pub mod handback;
pub mod keyspace;
pub mod router_check;
pub mod router_pick;
pub mod stats;
pub mod v3dual;

pub use awaitable::Ready;
pub use cache_steps::InMemoryCacheSteps;
pub use keyspace::{LocalRateLimits, V3Checks};
pub use router_check::{ModelRateLimitChecks, UsageV2Checks};
pub use router_pick::GroupPicker;
pub use stats::Stats;
pub use v3dual::V3DualCacheChecks;
