//! Time behind a trait, so tests can drive the limiter with a [`FakeClock`].
//!
//! LiteLLM's v3 limiter reads `datetime.now().timestamp()`: windows use its integer part
//! (`now_int = int(now)`), while the parallel-request slots and the memory tier's key expiry
//! use the fractional value. A [`Clock`] therefore returns a [`Duration`] since an arbitrary,
//! fixed origin; the limiter takes [`Duration::as_secs`] where LiteLLM takes `int(now)`.
//! Use a monotonic clock for limits, never wall-clock time.

use std::time::{Duration, Instant};

use crate::sync::{Arc, AtomicU64, Ordering};

/// A monotonic time source.
pub trait Clock: Send + Sync {
    /// Time elapsed since this clock's origin. Must never go backwards.
    fn now(&self) -> Duration;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

/// The process's monotonic clock ([`Instant`]), measured from when this value was created.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// # Examples
///
#[cfg_attr(not(loom), doc = "```")]
#[cfg_attr(loom, doc = "```no_run")]
/// use std::time::Duration;
/// use fastllm_ratelimit::{Clock, FakeClock};
///
/// let clock = FakeClock::at_secs(100);
/// let shared = clock.clone();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(shared.now(), Duration::from_millis(101_500));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    /// A fake clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake clock at `secs` seconds.
    pub fn at_secs(secs: u64) -> Self {
        let clock = Self::new();
        clock.set(Duration::from_secs(secs));
        clock
    }

    /// Jump to `now` (it may move backwards: tests can model a clock that does).
    pub fn set(&self, now: Duration) {
        self.nanos.store(to_nanos(now), Ordering::SeqCst);
    }

    /// Move forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(to_nanos(by), Ordering::SeqCst);
    }
}

fn to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
