//! Time behind a trait: a monotonic clock for windows and cooldowns, and the wall-clock minute
//! LiteLLM puts into its usage keys.
//!
//! LiteLLM keys per-minute usage by `datetime.now().strftime("%H-%M")` (local time: usage-based
//! v1, and `"%Y-%m-%d-%H-%M"` in the latency and cost maps) or by the UTC minute (usage-based
//! v2, `get_utc_datetime()`). [`WallTime`] carries both. Everything that expires (cooldowns,
//! the 60 s success/failure windows, cache TTLs) uses [`Clock::now`], which never goes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::{AtomicI64, AtomicU64, Ordering};

/// A source of time.
pub trait Clock: Send + Sync {
    /// Monotonic time since a fixed, arbitrary origin. Never decreases.
    fn now(&self) -> Duration;
    /// The wall clock, with the local UTC offset, for LiteLLM's minute labels.
    fn wall(&self) -> WallTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn wall(&self) -> WallTime {
        (**self).wall()
    }
}

/// A wall-clock reading: Unix time and the local offset from UTC at that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_millis: i64,
    /// Local time minus UTC, in seconds (what `datetime.now()` adds to UTC).
    pub utc_offset_secs: i32,
}

impl WallTime {
    /// The local minute, as `datetime.now()` sees it.
    #[must_use]
    pub fn local_minute(&self) -> Minute {
        Minute::from_unix_secs(self.unix_millis.div_euclid(1000) + i64::from(self.utc_offset_secs))
    }

    /// The UTC minute, as `get_utc_datetime()` sees it.
    #[must_use]
    pub fn utc_minute(&self) -> Minute {
        Minute::from_unix_secs(self.unix_millis.div_euclid(1000))
    }
}

/// A calendar minute in some time zone: minutes since 1970-01-01 00:00 of that zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minute(pub i64);

impl Minute {
    fn from_unix_secs(secs: i64) -> Self {
        Self(secs.div_euclid(60))
    }

    /// Hour and minute of the day.
    #[must_use]
    pub fn hour_minute(self) -> (u32, u32) {
        let of_day = self.0.rem_euclid(1440);
        // Both fit: of_day < 1440.
        ((of_day / 60) as u32, (of_day % 60) as u32)
    }

    /// Year, month (1-12) and day (1-31).
    #[must_use]
    pub fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(1440))
    }

    /// `strftime("%H-%M")`: the suffix of LiteLLM's usage keys, e.g. `09-05`.
    #[must_use]
    pub fn hh_mm(self) -> String {
        let (h, m) = self.hour_minute();
        format!("{h:02}-{m:02}")
    }

    /// `f"{%Y-%m-%d}-{%H}-{%M}"`: the minute key inside LiteLLM's latency and cost maps.
    #[must_use]
    pub fn precise(self) -> String {
        let (y, mo, d) = self.date();
        let (h, m) = self.hour_minute();
        format!("{y:04}-{mo:02}-{d:02}-{h:02}-{m:02}")
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d in 1..=31 and m in 1..=12 by construction.
    (y, m as u32, d as u32)
}

/// The real clock: [`Instant`] for [`Clock::now`], the system's local time for [`Clock::wall`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn wall(&self) -> WallTime {
        let now = chrono::Local::now();
        WallTime {
            unix_millis: now.timestamp_millis(),
            utc_offset_secs: now.offset().local_minus_utc(),
        }
    }
}

/// A clock that moves only when told to: monotonic and wall time advance together. Clones
/// share the same time.
///
/// Built like `fastllm_ratelimit::FakeClock` ([`new`](Self::new) at zero,
/// [`at_secs`](Self::at_secs), [`set`](Self::set), [`advance`](Self::advance)), plus the wall
/// clock LiteLLM's minute labels read ([`at_utc`](Self::at_utc),
/// [`at_unix_millis`](Self::at_unix_millis), [`set_wall`](Self::set_wall),
/// [`set_utc_offset`](Self::set_utc_offset)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_router::{Clock, FakeClock};
///
/// let clock = FakeClock::at_utc(2024, 5, 17, 9, 4, 59);
/// let shared = clock.clone();
/// assert_eq!(clock.wall().utc_minute().hh_mm(), "09-04");
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(shared.wall().utc_minute().hh_mm(), "09-05");
/// assert_eq!(shared.now(), Duration::from_secs(1));
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

    /// A clock at the given UTC date and time.
    #[must_use]
    pub fn at_utc(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Self {
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Self::at_unix_millis(secs * 1000)
    }

    /// Sets the local UTC offset (seconds), e.g. `3600` for UTC+1.
    pub fn set_utc_offset(&self, secs: i32) {
        self.time
            .offset_secs
            .store(i64::from(secs), Ordering::Relaxed);
    }

    /// Jumps the monotonic clock to `now` (it may move backwards: tests can model a clock that
    /// does); the wall clock stays.
    pub fn set(&self, now: Duration) {
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.time.nanos.store(nanos, Ordering::Relaxed);
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.time.nanos.fetch_add(nanos, Ordering::Relaxed);
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.time.unix_millis.fetch_add(millis, Ordering::Relaxed);
    }

    /// Moves only the wall clock (as an NTP step or a DST change would).
    pub fn set_wall(&self, unix_millis: i64) {
        self.time.unix_millis.store(unix_millis, Ordering::Relaxed);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.time.nanos.load(Ordering::Relaxed))
    }

    fn wall(&self) -> WallTime {
        WallTime {
            unix_millis: self.time.unix_millis.load(Ordering::Relaxed),
            // The offset was stored from an i32.
            utc_offset_secs: self.time.offset_secs.load(Ordering::Relaxed) as i32,
        }
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 60, 365, 11_016, 19_860, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_860), (2024, 5, 17));
    }

    #[test]
    fn labels_match_strftime() {
        // 2024-02-29 23:59:30 UTC; local UTC+1 is 2024-03-01 00:59.
        let clock = FakeClock::at_utc(2024, 2, 29, 23, 59, 30);
        clock.set_utc_offset(3600);
        let wall = clock.wall();
        assert_eq!(wall.utc_minute().hh_mm(), "23-59");
        assert_eq!(wall.utc_minute().precise(), "2024-02-29-23-59");
        assert_eq!(wall.local_minute().hh_mm(), "00-59");
        assert_eq!(wall.local_minute().precise(), "2024-03-01-00-59");
    }

    #[test]
    fn negative_offsets_and_pre_epoch() {
        let clock = FakeClock::at_utc(1970, 1, 1, 0, 30, 0);
        clock.set_utc_offset(-3600);
        assert_eq!(clock.wall().local_minute().precise(), "1969-12-31-23-30");
    }

    #[test]
    fn secs_to_nanos_saturates() {
        assert_eq!(secs_to_nanos(1.5), 1_500_000_000);
        assert_eq!(secs_to_nanos(-0.25), -250_000_000);
        assert_eq!(secs_to_nanos(f64::INFINITY), i64::MAX);
        assert_eq!(secs_to_nanos(f64::NAN), 0);
    }
}
