#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]

mod clock;
mod descriptor;
mod error;
mod gauge;
mod gcra;
mod headers;
mod keys;
pub mod litellm;
mod map;
mod memory;
#[cfg(feature = "redis")]
mod redis_store;
mod reservation;
mod store;
mod sync;
pub mod window;

pub use clock::{Clock, FakeClock, MonotonicClock, SystemClock, WallTime};
pub use descriptor::{
    CounterKind, DEFAULT_WINDOW_SECS, Descriptor, Limits, MAX_LIMIT, MAX_WINDOW_SECS,
    PROJECT_ITPM_DESCRIPTOR_KEY, PROJECT_OTPM_DESCRIPTOR_KEY, ScopeId, coalesce_descriptors,
    merge_descriptors,
};
#[cfg(feature = "redis")]
pub use error::BackendError;
pub use error::{Error, Result};
pub use gauge::{DEFAULT_SLOT_TTL, SlotAcquisition, SlotId, SlotIds};
pub use gcra::{GcraOutcome, KeyedGcra};
pub use headers::{Rejection, format_utc, ratelimit_headers, rejection};
pub use keys::KeyTtl;
pub use memory::{Admission, CheckOptions, Config, MemoryStore, SlotGuard};
#[cfg(feature = "redis")]
pub use redis_store::{
    Checked, Decision, FailMode, RATE_LIMIT_UNVERIFIABLE_MESSAGE, RedisConfig, RedisStore,
    Unverified, Verdict,
};
pub use reservation::{TokenIncrement, TpmReservation, settlement_increments};
pub use store::{
    AtomicCounter, AtomicOutcome, Charged, CountOutcome, CountStep, CountedKey, CounterValues,
    GaugeKey, Limiter, Store,
};
pub use window::{Code, Increment, RateLimitType, ReservationWindow, Response, Status};
