//! A keyed GCRA limiter for Rust callers who want smooth limiting instead of LiteLLM's fixed
//! windows. It is a thin layer over [`governor`]'s keyed `RateLimiter` (the GCRA itself is
//! governor's), driven by this crate's [`Clock`] so tests can use a [`FakeClock`](crate::FakeClock).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::{Clock, MonotonicClock};
use crate::error::{Error, Result};

/// The outcome of a GCRA check: admitted, or the wait before it could be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GcraOutcome {
    /// Admitted; the cells were taken.
    Allowed,
    /// Refused; the same check would first succeed after this long.
    NotUntil(Duration),
    /// Refused for good: more cells than the burst size were asked for at once.
    ExceedsBurst,
}

impl GcraOutcome {
    /// Whether the check was admitted.
    pub fn is_allowed(self) -> bool {
        self == GcraOutcome::Allowed
    }
}

/// Bridges this crate's [`Clock`] to governor's clock trait (instants are durations since
/// the clock's origin, which governor supports directly).
#[derive(Debug, Clone)]
struct GovernorAdapter<C>(C);

impl<C: Clock> GovernorClock for GovernorAdapter<C> {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.now()
    }
}

/// A GCRA limiter per key: `rpm` requests per minute on average, at most `burst` at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_ratelimit::{FakeClock, GcraOutcome, KeyedGcra};
///
/// let clock = FakeClock::new();
/// let gcra = KeyedGcra::with_clock(60, 2, clock.clone())?; // 1 per second, bursts of 2
/// let key = "user-1".to_string();
/// assert_eq!(gcra.check(&key), GcraOutcome::Allowed);
/// assert_eq!(gcra.check(&key), GcraOutcome::Allowed);
/// assert_eq!(gcra.check(&key), GcraOutcome::NotUntil(Duration::from_secs(1)));
/// clock.advance(Duration::from_secs(1));
/// assert!(gcra.check(&key).is_allowed());
/// # Ok::<(), fastllm_ratelimit::Error>(())
/// ```
pub struct KeyedGcra<K = String, C = MonotonicClock>
where
    K: Hash + Eq + Clone,
    C: Clock,
{
    clock: GovernorAdapter<C>,
    limiter:
        RateLimiter<K, DefaultKeyedStateStore<K>, GovernorAdapter<C>, NoOpMiddleware<Duration>>,
    quota: Quota,
}

impl<K: Hash + Eq + Clone> KeyedGcra<K, MonotonicClock> {
    /// `rpm` per minute, bursts of `burst`, on the monotonic clock.
    ///
    /// # Errors
    ///
    /// As [`KeyedGcra::with_clock`].
    pub fn new(rpm: u32, burst: u32) -> Result<Self> {
        Self::with_clock(rpm, burst, MonotonicClock::new())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> KeyedGcra<K, C> {
    /// `rpm` per minute, bursts of `burst`, on `clock`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `rpm` or `burst` is 0.
    pub fn with_clock(rpm: u32, burst: u32, clock: C) -> Result<Self> {
        let rpm =
            NonZeroU32::new(rpm).ok_or_else(|| Error::invalid("rpm", "must be at least 1"))?;
        let burst =
            NonZeroU32::new(burst).ok_or_else(|| Error::invalid("burst", "must be at least 1"))?;
        let quota = Quota::per_minute(rpm).allow_burst(burst);
        let clock = GovernorAdapter(clock);
        Ok(Self {
            limiter: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone()),
            clock,
            quota,
        })
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedGcra<K, C> {
    /// Take one cell for `key`.
    pub fn check(&self, key: &K) -> GcraOutcome {
        match self.limiter.check_key(key) {
            Ok(()) => GcraOutcome::Allowed,
            Err(not_until) => GcraOutcome::NotUntil(not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Take `n` cells for `key` at once (all or none), e.g. a token cost.
    pub fn check_n(&self, key: &K, n: u32) -> GcraOutcome {
        let Some(n) = NonZeroU32::new(n) else {
            return GcraOutcome::Allowed;
        };
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) => GcraOutcome::Allowed,
            Ok(Err(not_until)) => GcraOutcome::NotUntil(not_until.wait_time_from(self.clock.now())),
            Err(_) => GcraOutcome::ExceedsBurst,
        }
    }

    /// The quota in force.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Forget keys whose state is indistinguishable from a fresh one.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

impl<K: Hash + Eq + Clone, C: Clock> std::fmt::Debug for KeyedGcra<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedGcra")
            .field("quota", &self.quota)
            .field("keys", &self.limiter.len())
            .finish()
    }
}
