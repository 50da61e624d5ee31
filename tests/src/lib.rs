//! fastllm's interop suites, kept out of the published crates.
//!
//! * `ratelimit/litellm_golden.rs`: answers recorded from LiteLLM's v3 limiter, replayed
//!   against `fastllm_ratelimit::MemoryStore` (`ratelimit/litellm_golden.py` re-records them).
//! * `ratelimit/redis.rs`: `RedisStore` on a real `redis-server`, and beside LiteLLM's own
//!   limiter (`ratelimit/redis_interop.py`) when `LITELLM_PYTHON` is set.
//! * `router/redis.rs`, `router/redis_litellm.rs`: routers sharing cooldowns and usage on a
//!   real `redis-server`, and a LiteLLM `Router` beside a fastllm one
//!   (`router/redis_litellm.py`).
//! * `connpool/redis.rs`: the Redis pool against a real server.
//! * `benches/ratelimit_redis.rs`: `RedisStore`'s cost per check on a loopback server.
//!
//! The library is what they share: the throwaway server they start ([`RedisServer`]), and the
//! child process that runs LiteLLM's half of an interop test ([`LiteLlmScript`]), and the
//! router suites' pick helper ([`router::picked_ids`]).

pub mod litellm_script;
pub mod redis_server;
pub mod router;

pub use litellm_script::LiteLlmScript;
pub use redis_server::{RedisServer, error_chain, free_port, redis_server_binary};
