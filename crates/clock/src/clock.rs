//! The [`Clock`] trait and the real clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wall::WallTime;

/// A source of time: a monotonic reading for everything that expires, and the wall clock for
/// calendar labels.
pub trait Clock: Send + Sync {
    /// Monotonic time since a fixed, arbitrary origin. Never decreases.
    fn now(&self) -> Duration;

    /// The wall clock, with the local offset from UTC at this instant.
    fn wall(&self) -> WallTime;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn wall(&self) -> WallTime {
        (**self).wall()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn wall(&self) -> WallTime {
        (**self).wall()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
    fn wall(&self) -> WallTime {
        (**self).wall()
    }
}

/// The real clock: [`Instant`] for [`Clock::now`], measured from when this value was
/// created, and the system's local time for [`Clock::wall`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_near_the_system_time() {
        let clock = SystemClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let wall = i128::try_from(unix).unwrap() - i128::from(clock.wall().unix_millis);
        assert!(wall.abs() < 60_000, "{wall} ms apart");
    }

    #[test]
    fn dyn_clocks_through_pointers() {
        let fake = crate::FakeClock::at_secs(3);
        let shared: Arc<dyn Clock> = Arc::new(fake.clone());
        let boxed: Box<dyn Clock> = Box::new(fake.clone());
        fake.advance(Duration::from_secs(1));
        fn read(clock: impl Clock) -> (Duration, WallTime) {
            (clock.now(), clock.wall())
        }
        assert_eq!(read(&shared), read(&boxed));
        assert_eq!(read(boxed).0, Duration::from_secs(4));
        assert_eq!(read(shared).1.unix_millis, 1000);
    }
}
