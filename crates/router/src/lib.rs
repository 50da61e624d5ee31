#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]

mod clock;
mod cooldown;
pub mod counter;
mod deployment;
mod error;
pub mod litellm;
#[cfg(feature = "redis")]
mod redis_state;
mod registry;
mod rng;
mod router;
mod state;
pub mod strategy;
mod sync;

pub use clock::{Clock, FakeClock, Minute, SystemClock, WallTime};
pub use cooldown::{
    CooldownDecision, CooldownReason, CooldownSettings, DEFAULT_ALLOWED_FAILS,
    DEFAULT_COOLDOWN_TIME_SECONDS, DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS,
    DEFAULT_FAILURE_THRESHOLD_PERCENT, ErrorKind, Failure,
    SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD, SkipReason, evaluate as evaluate_failure,
    is_cooldown_required, set_cooldown, should_retry,
};
pub use deployment::{AllowedFailsPolicy, Deployment, DeploymentBuilder, Metric};
#[cfg(feature = "redis")]
pub use error::BackendError;
pub use error::{Error, Result};
#[cfg(feature = "redis")]
pub use redis_state::{CooldownValue, EXCEPTION_VISIBLE_CHARS, Published, RedisState, Synced};
pub use registry::{Member, ModelGroup, Registry, Snapshot};
pub use rng::{RouterRng, StdRouterRng};
pub use router::{Admission, Pick, Router, RouterSettings, SlotGuard};
pub use state::{DeploymentState, GroupState, RouterState, StateConfig, Success, Tracking};
