//! The fake clock for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::wall::{WallTime, days_from_civil};

/// A clock that moves only when told to: [`advance`](Self::advance) moves the monotonic and
/// the wall clock together, [`set`](Self::set) and [`set_wall`](Self::set_wall) each jump one
/// of them. Clones share the same time.
///
/// It starts at monotonic time zero, its wall clock at the Unix epoch with UTC offset 0
/// ([`new`](Self::new)), or at a given monotonic second ([`at_secs`](Self::at_secs)), Unix
/// time ([`at_unix_millis`](Self::at_unix_millis)) or UTC date ([`at_utc`](Self::at_utc)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_clock::{Clock, FakeClock};
///
/// let clock = FakeClock::at_secs(100);
/// let shared = clock.clone();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(shared.now(), Duration::from_millis(101_500));
/// assert_eq!(shared.wall().unix_millis, 1500);
///
/// clock.set_utc_offset(3600);
/// clock.set_wall(0);
/// assert_eq!(shared.wall().local_minute().hour_minute(), (1, 0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    time: Arc<FakeTime>,
}

#[derive(Debug, Default)]
struct FakeTime {
    nanos: AtomicU64,
    unix_millis: AtomicI64,
    offset_secs: AtomicI64,
}

impl FakeClock {
    /// A clock at monotonic time zero, its wall clock at the Unix epoch, UTC offset 0.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock at monotonic time `secs` (wall clock at the Unix epoch).
    #[must_use]
    pub fn at_secs(secs: u64) -> Self {
        let clock = Self::new();
        clock.set(Duration::from_secs(secs));
        clock
    }

    /// A clock at the given Unix time (milliseconds), UTC offset 0, monotonic time 0.
    #[must_use]
    pub fn at_unix_millis(unix_millis: i64) -> Self {
        let clock = Self::new();
        clock.set_wall(unix_millis);
        clock
    }

    /// A clock at the given UTC date and time (proleptic Gregorian), UTC offset 0, monotonic
    /// time 0.
    #[must_use]
    pub fn at_utc(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Self {
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Self::at_unix_millis(secs * 1000)
    }

    /// Jumps the monotonic clock to `now` (it may move backwards: tests can model a clock that
    /// does); the wall clock stays.
    pub fn set(&self, now: Duration) {
        self.time
            .nanos
            .store(saturating_nanos(now), Ordering::SeqCst);
    }

    /// Moves both clocks forward by `by` (the wall clock by whole milliseconds).
    pub fn advance(&self, by: Duration) {
        self.time
            .nanos
            .fetch_add(saturating_nanos(by), Ordering::SeqCst);
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.time.unix_millis.fetch_add(millis, Ordering::SeqCst);
    }

    /// Moves only the wall clock (as an NTP step or a DST change would).
    pub fn set_wall(&self, unix_millis: i64) {
        self.time.unix_millis.store(unix_millis, Ordering::SeqCst);
    }

    /// Sets the local UTC offset (seconds), e.g. `3600` for UTC+1.
    pub fn set_utc_offset(&self, secs: i32) {
        self.time
            .offset_secs
            .store(i64::from(secs), Ordering::SeqCst);
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.time.nanos.load(Ordering::SeqCst))
    }

    fn wall(&self) -> WallTime {
        WallTime {
            unix_millis: self.time.unix_millis.load(Ordering::SeqCst),
            // The offset was stored from an i32.
            utc_offset_secs: self.time.offset_secs.load(Ordering::SeqCst) as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_utc_reads_back() {
        let clock = FakeClock::at_utc(2024, 5, 17, 9, 4, 59);
        let wall = clock.wall();
        assert_eq!(wall.unix_millis, 1_715_936_699_000);
        assert_eq!(wall.utc_minute().hour_minute(), (9, 4));
        assert_eq!(clock.now(), Duration::ZERO);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.wall().utc_minute().hour_minute(), (9, 5));
    }

    #[test]
    fn negative_offsets_and_pre_epoch() {
        let clock = FakeClock::at_utc(1970, 1, 1, 0, 30, 0);
        clock.set_utc_offset(-3600);
        let local = clock.wall().local_minute();
        assert_eq!(local.date(), (1969, 12, 31));
        assert_eq!(local.hour_minute(), (23, 30));
    }

    #[test]
    fn set_moves_only_the_monotonic_clock_and_saturates() {
        let clock = FakeClock::at_unix_millis(5);
        clock.set(Duration::from_secs(2));
        clock.set(Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_secs(1), "it may move back");
        assert_eq!(clock.wall().unix_millis, 5);
        clock.set(Duration::MAX);
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }
}
