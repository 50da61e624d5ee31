#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(loom), doc = include_str!("../README.md"))]
#![cfg_attr(
    loom,
    doc = "fastllm-router, built for loom: only the modelled counters."
)]

#[cfg(not(loom))]
mod clock;
#[cfg(not(loom))]
mod cooldown;
pub mod counter;
#[cfg(not(loom))]
mod deployment;
mod error;
#[cfg(not(loom))]
pub mod litellm;
// The Redis-shared state needs the connection pool, which loom builds leave out (tokio has no
// `tokio::net` there).
#[cfg(all(feature = "redis", not(loom)))]
mod redis_state;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
mod rng;
#[cfg(not(loom))]
mod router;
#[cfg(not(loom))]
mod state;
#[cfg(not(loom))]
pub mod strategy;
mod sync;

#[cfg(not(loom))]
pub use clock::{Clock, FakeClock, Minute, SystemClock, WallTime};
#[cfg(not(loom))]
pub use cooldown::{
    CooldownDecision, CooldownReason, CooldownSettings, DEFAULT_ALLOWED_FAILS,
    DEFAULT_COOLDOWN_TIME_SECONDS, DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS,
    DEFAULT_FAILURE_THRESHOLD_PERCENT, ErrorKind, Failure,
    SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD, SkipReason, evaluate as evaluate_failure,
    is_cooldown_required, set_cooldown, should_retry,
};
#[cfg(not(loom))]
pub use deployment::{AllowedFailsPolicy, Deployment, DeploymentBuilder, Metric};
pub use error::{Error, Result};
#[cfg(all(feature = "redis", not(loom)))]
pub use redis_state::{CooldownValue, EXCEPTION_VISIBLE_CHARS, Published, RedisState, Synced};
#[cfg(not(loom))]
pub use registry::{Member, ModelGroup, Registry, Snapshot};
#[cfg(not(loom))]
pub use rng::{RouterRng, StdRouterRng};
#[cfg(not(loom))]
pub use router::{Admission, Pick, Router, RouterSettings, SlotGuard};
#[cfg(not(loom))]
pub use state::{DeploymentState, GroupState, RouterState, StateConfig, Success, Tracking};
