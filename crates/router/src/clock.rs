//! Time behind a trait: the clock of `fastllm-clock`, shared with `fastllm-ratelimit`.
//!
//! Everything that expires (cooldowns, the 60 s success/failure windows, cache TTLs) uses
//! [`Clock::now`], which never goes back. LiteLLM keys per-minute usage by the wall-clock minute:
//! local time in usage-based v1 and in the latency and cost maps (`datetime.now()`), UTC in
//! usage-based v2 (`get_utc_datetime()`); [`Clock::wall`] gives both
//! ([`WallTime::local_minute`], [`WallTime::utc_minute`]), and
//! [`MinuteLabels`](crate::litellm::MinuteLabels) spells them as LiteLLM does.
//!
//! The router is generic over `C: Clock` (default [`SystemClock`]), not `dyn`, as the limiter's
//! stores are: the clock is read on every pick, so the call stays static, and a router on a
//! [`FakeClock`] says so in its type.

use std::time::Duration;

pub use fastllm_clock::{Clock, FakeClock, Minute, SystemClock, WallTime};

/// Nanoseconds since the clock's origin, as a signed number for deadline arithmetic.
pub(crate) fn nanos(now: Duration) -> i64 {
    i64::try_from(now.as_nanos()).unwrap_or(i64::MAX)
}

/// `secs` (a LiteLLM TTL or cooldown, possibly negative or fractional) in nanoseconds.
pub(crate) fn secs_to_nanos(secs: f64) -> i64 {
    if secs.is_nan() {
        return 0;
    }
    // `as` saturates at the i64 bounds.
    (secs * 1e9).round() as i64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn secs_to_nanos_saturates() {
        assert_eq!(secs_to_nanos(1.5), 1_500_000_000);
        assert_eq!(secs_to_nanos(-0.25), -250_000_000);
        assert_eq!(secs_to_nanos(f64::INFINITY), i64::MAX);
        assert_eq!(secs_to_nanos(f64::NAN), 0);
    }
}
