//! The hand-written concurrent counters behind the live state, and their loom models.
//!
//! * [`Gauge`]: an in-flight count (least-busy's `{group}_request_count:{id}`, and the
//!   `max_parallel_requests` slots), lock-free, never below zero.
//! * [`WindowCounter`]: a counter with LiteLLM's in-memory-cache TTL semantics: the TTL is set
//!   by the write that creates the key and is not extended by later increments; a read after it
//!   sees nothing.
//! * [`CooldownCell`]: one deployment's cooldown entry, with a lock-free "is it cooling down"
//!   read for the pick path.

use crate::sync::{AtomicI64, AtomicU64, Mutex, Ordering, lock};

/// A non-negative in-flight count.
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicU64,
}

impl Gauge {
    /// A gauge at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    /// Adds one; returns the new value.
    pub fn increment(&self) -> u64 {
        self.value.fetch_add(1, Ordering::AcqRel).saturating_add(1)
    }

    /// Subtracts one, stopping at zero (LiteLLM resets a negative count to 0); returns the new
    /// value.
    pub fn decrement(&self) -> u64 {
        let mut current = self.value.load(Ordering::Acquire);
        loop {
            let next = current.saturating_sub(1);
            match self.value.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }

    /// Adds one unless the value is already at or above `limit` (LiteLLM's
    /// `MaxParallelRequestsLimit.acquire`: refused when `in_flight >= max_parallel_requests`).
    /// Returns whether it was added.
    pub fn try_increment_below(&self, limit: i64) -> bool {
        let Ok(limit) = u64::try_from(limit) else {
            return false;
        };
        let mut current = self.value.load(Ordering::Acquire);
        loop {
            if current >= limit {
                return false;
            }
            match self.value.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    present: bool,
    label: i64,
    expires: i64,
    count: u64,
}

impl Window {
    /// The value a read at `now` sees for key `label`.
    fn live(&self, label: i64, now: i64) -> Option<u64> {
        (self.present && self.label == label && now <= self.expires).then_some(self.count)
    }
}

/// A counter under one cache key, with LiteLLM's in-memory TTL rules.
///
/// `label` stands for the part of the key that changes over time (the minute in
/// `{id}:{model}:rpm:{HH-MM}`); a write under a new label starts a new key. Only the newest key
/// is kept, since reads only ever ask for the current one.
#[derive(Debug, Default)]
pub struct WindowCounter {
    window: Mutex<Window>,
}

impl WindowCounter {
    /// An empty counter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `increment_cache(key, by, ttl)`: adds `by` to the live value (or starts at `by`, with the
    /// key expiring `ttl_nanos` after `now`); returns the new value.
    pub fn increment(&self, label: i64, now: i64, ttl_nanos: i64, by: u64) -> u64 {
        let mut window = lock(&self.window);
        match window.live(label, now) {
            Some(count) => window.count = count.saturating_add(by),
            None => {
                *window = Window {
                    present: true,
                    label,
                    expires: now.saturating_add(ttl_nanos),
                    count: by,
                };
            }
        }
        window.count
    }

    /// Raises the live value to at least `value`, or creates the key with it (expiring
    /// `ttl_nanos` after `now`); returns the new value.
    ///
    /// For a count read from a shared store: it already includes this process's own
    /// increments, so it replaces the local count unless that is higher (an increment not yet
    /// sent), and the count never goes back.
    pub fn raise_to(&self, label: i64, now: i64, ttl_nanos: i64, value: u64) -> u64 {
        let mut window = lock(&self.window);
        match window.live(label, now) {
            Some(count) => window.count = count.max(value),
            None => {
                *window = Window {
                    present: true,
                    label,
                    expires: now.saturating_add(ttl_nanos),
                    count: value,
                };
            }
        }
        window.count
    }

    /// `get_cache(key) or 0`.
    #[must_use]
    pub fn get(&self, label: i64, now: i64) -> u64 {
        lock(&self.window).live(label, now).unwrap_or(0)
    }

    /// `get_cache(key)`: `None` when the key is absent or expired.
    #[must_use]
    pub fn get_opt(&self, label: i64, now: i64) -> Option<u64> {
        lock(&self.window).live(label, now)
    }
}

/// What a cooldown entry records (LiteLLM's `CooldownCacheValue`, minus the exception text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownInfo {
    /// The status code that caused it (`500` when the error carried none).
    pub status: u16,
    /// The cooldown in seconds.
    pub cooldown_secs: f64,
    /// When it was written, monotonic nanoseconds.
    pub started_nanos: i64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    present: bool,
    ttl_expires: i64,
    ends: i64,
    info: Option<CooldownInfo>,
}

/// One deployment's cooldown: `deployment:{id}:cooldown` in LiteLLM's cooldown cache.
///
/// LiteLLM stores `{timestamp, cooldown_time}` with a TTL of `cooldown_time`. Writing again
/// replaces the value but keeps an unexpired TTL, and a read deletes an entry whose value has
/// run out. A deployment is cooling down while both the TTL and the value say so.
#[derive(Debug)]
pub struct CooldownCell {
    /// Exclusive end of the active period, monotonic nanoseconds; `i64::MIN` for none.
    until: AtomicI64,
    entry: Mutex<Entry>,
}

impl Default for CooldownCell {
    fn default() -> Self {
        Self {
            until: AtomicI64::new(i64::MIN),
            entry: Mutex::new(Entry::default()),
        }
    }
}

impl CooldownCell {
    /// No cooldown.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the deployment is cooling down at `now`. Lock-free.
    #[must_use]
    pub fn is_active(&self, now: i64) -> bool {
        now < self.until.load(Ordering::Acquire)
    }

    /// The entry, if it is active at `now`.
    #[must_use]
    pub fn active_info(&self, now: i64) -> Option<CooldownInfo> {
        let entry = lock(&self.entry);
        let active = entry.present && now <= entry.ttl_expires && now < entry.ends;
        if active { entry.info } else { None }
    }

    /// `add_deployment_to_cooldown`: writes the entry at `now` for `cooldown_nanos`.
    ///
    /// `last_scan` is the latest time the router read the cooldown list (every pick reads all
    /// of it). A read at or after the old value's end deleted that entry, so the new write
    /// sets a fresh TTL; a read before its end, while the TTL outlived the value by more than
    /// 5 s, cut the TTL down to the value's end (`_corrected_active_cooldown`).
    pub fn add(
        &self,
        now: i64,
        cooldown_nanos: i64,
        status: u16,
        cooldown_secs: f64,
        last_scan: i64,
    ) {
        let mut entry = lock(&self.entry);
        if entry.present {
            let written = entry.info.map_or(i64::MIN, |info| info.started_nanos);
            if last_scan >= entry.ends && last_scan >= written {
                entry.present = false;
            } else if last_scan > written
                && entry.ttl_expires > entry.ends.saturating_add(5_000_000_000)
            {
                let remaining = entry.ends.saturating_sub(last_scan);
                entry.ttl_expires = last_scan.saturating_add(remaining.min(60_000_000_000));
            }
        }
        let key_live = entry.present && now <= entry.ttl_expires;
        let ends = now.saturating_add(cooldown_nanos);
        *entry = Entry {
            present: true,
            ttl_expires: if key_live { entry.ttl_expires } else { ends },
            ends,
            info: Some(CooldownInfo {
                status,
                cooldown_secs,
                started_nanos: now,
            }),
        };
        let until = entry.ttl_expires.saturating_add(1).min(entry.ends);
        self.until.store(until, Ordering::Release);
    }

    /// Takes on a cooldown another process wrote to a shared store, active until `ends`
    /// (exclusive), unless one is already active here at `now`: LiteLLM's two-tier cache reads
    /// the shared tier only for keys missing from its memory. Returns whether it was taken on.
    pub fn adopt(&self, now: i64, ends: i64, info: CooldownInfo) -> bool {
        let mut entry = lock(&self.entry);
        let live = entry.present && now <= entry.ttl_expires && now < entry.ends;
        if live || ends <= now {
            return false;
        }
        *entry = Entry {
            present: true,
            ttl_expires: ends,
            ends,
            info: Some(info),
        };
        self.until.store(ends, Ordering::Release);
        true
    }

    /// Ends the cooldown now (an operator override).
    pub fn clear(&self) {
        let mut entry = lock(&self.entry);
        *entry = Entry::default();
        self.until.store(i64::MIN, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn gauge_floors_at_zero() {
        let gauge = Gauge::new();
        assert_eq!(gauge.decrement(), 0);
        assert_eq!(gauge.increment(), 1);
        assert_eq!(gauge.increment(), 2);
        assert_eq!(gauge.decrement(), 1);
        assert_eq!(gauge.get(), 1);
    }

    #[test]
    fn gauge_limit() {
        let gauge = Gauge::new();
        assert!(gauge.try_increment_below(2));
        assert!(gauge.try_increment_below(2));
        assert!(!gauge.try_increment_below(2));
        assert!(!Gauge::new().try_increment_below(-1));
        assert!(!Gauge::new().try_increment_below(0));
    }

    #[test]
    fn window_ttl_is_not_extended_by_increments() {
        let counter = WindowCounter::new();
        assert_eq!(counter.increment(0, 0, 60, 1), 1);
        assert_eq!(
            counter.increment(0, 60, 60, 1),
            2,
            "now == expiry is still live"
        );
        assert_eq!(counter.get(0, 60), 2);
        assert_eq!(counter.get(0, 61), 0);
        assert_eq!(
            counter.increment(0, 61, 60, 5),
            5,
            "a fresh key after expiry"
        );
        assert_eq!(counter.get(0, 121), 5);
        assert_eq!(counter.get_opt(0, 122), None);
    }

    #[test]
    fn window_new_label_is_new_key() {
        let counter = WindowCounter::new();
        counter.increment(7, 0, 1000, 3);
        assert_eq!(counter.get(7, 1), 3);
        assert_eq!(counter.get(8, 1), 0);
        assert_eq!(counter.increment(8, 2, 1000, 1), 1);
        assert_eq!(counter.get(7, 3), 0);
    }

    #[test]
    fn negative_ttl_counts_once() {
        let counter = WindowCounter::new();
        assert_eq!(counter.increment(0, 10, -5, 1), 1);
        assert_eq!(counter.increment(0, 10, -5, 1), 1);
    }

    #[test]
    fn cooldown_rewrite_keeps_ttl() {
        let cell = CooldownCell::new();
        assert!(!cell.is_active(0));
        cell.add(0, 10, 429, 10e-9, i64::MIN);
        assert!(cell.is_active(9));
        assert!(!cell.is_active(10));
        // Re-added at 5 for 100 without a read in between: the TTL written at 0 still bounds it.
        cell.add(5, 100, 429, 1e-7, i64::MIN);
        assert!(cell.is_active(10), "ttl expiry is inclusive");
        assert!(!cell.is_active(11));
        assert_eq!(cell.active_info(10).map(|i| i.status), Some(429));
        assert_eq!(cell.active_info(11), None);
    }

    #[test]
    fn window_raise_never_lowers() {
        let counter = WindowCounter::new();
        assert_eq!(counter.raise_to(1, 0, 60, 7), 7, "creates the key");
        counter.increment(1, 1, 60, 2);
        assert_eq!(
            counter.raise_to(1, 2, 60, 5),
            9,
            "a lower shared count is ignored"
        );
        assert_eq!(counter.raise_to(1, 3, 60, 20), 20);
        assert_eq!(counter.get(1, 60), 20);
        assert_eq!(counter.get(1, 61), 0, "the TTL of the first write holds");
        assert_eq!(
            counter.raise_to(2, 62, 60, 4),
            4,
            "a new minute is a new key"
        );
    }

    #[test]
    fn cooldown_adopt_only_when_idle() {
        let info = |status| CooldownInfo {
            status,
            cooldown_secs: 1e-7,
            started_nanos: 0,
        };
        let cell = CooldownCell::new();
        assert!(!cell.adopt(10, 10, info(429)), "already over");
        assert!(cell.adopt(10, 100, info(429)));
        assert!(cell.is_active(99));
        assert!(!cell.is_active(100));
        assert!(!cell.adopt(20, 500, info(500)), "one is active here");
        assert_eq!(cell.active_info(50).map(|i| i.status), Some(429));
        assert!(cell.adopt(100, 150, info(500)), "the local one ran out");
        assert!(cell.is_active(149));
        // A local write after it keeps the adopted key's TTL, as a rewrite does.
        cell.add(120, 1000, 429, 1e-6, i64::MIN);
        assert!(cell.is_active(150));
        assert!(!cell.is_active(151));
    }

    #[test]
    fn cooldown_read_after_value_end_resets_ttl() {
        let cell = CooldownCell::new();
        cell.add(0, 100, 500, 1e-7, i64::MIN);
        cell.add(1, 2, 500, 2e-9, i64::MIN); // value ends at 3, ttl stays 100
        assert!(!cell.is_active(3));
        // A pick at 4 read the list and deleted the spent entry, so this one gets its own TTL.
        cell.add(10, 500, 500, 5e-7, 4);
        assert!(cell.is_active(509));
        assert!(!cell.is_active(510));
        cell.clear();
        assert!(!cell.is_active(11));
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two requests start and finish concurrently: the count ends at zero and never wraps.
    #[test]
    fn gauge_in_flight_balances() {
        loom::model(|| {
            let gauge = Arc::new(Gauge::new());
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let gauge = Arc::clone(&gauge);
                    thread::spawn(move || {
                        let during = gauge.increment();
                        assert!((1..=2).contains(&during));
                        gauge.decrement();
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            assert_eq!(gauge.get(), 0);
        });
    }

    /// A stray decrement racing an increment never leaves the count below zero or above one.
    #[test]
    fn gauge_decrement_saturates_under_race() {
        loom::model(|| {
            let gauge = Arc::new(Gauge::new());
            let other = Arc::clone(&gauge);
            let t = thread::spawn(move || {
                other.decrement();
            });
            gauge.increment();
            t.join().unwrap();
            let end = gauge.get();
            // Decrement first (floored at 0) then increment gives 1; increment first gives 0.
            assert!(end <= 1);
        });
    }

    /// Three callers race for two `max_parallel_requests` slots: exactly two win.
    #[test]
    fn slots_never_exceed_limit() {
        loom::model(|| {
            let gauge = Arc::new(Gauge::new());
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let gauge = Arc::clone(&gauge);
                    thread::spawn(move || gauge.try_increment_below(2))
                })
                .collect();
            let won = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|won| *won)
                .count();
            assert_eq!(won, 2);
            assert_eq!(gauge.get(), 2);
        });
    }

    /// Concurrent increments of a window counter are all counted.
    #[test]
    fn window_counter_loses_no_increment() {
        loom::model(|| {
            let counter = Arc::new(WindowCounter::new());
            let other = Arc::clone(&counter);
            let t = thread::spawn(move || other.increment(1, 0, 60, 1));
            let mine = counter.increment(1, 0, 60, 1);
            let theirs = t.join().unwrap();
            assert_eq!(mine + theirs, 3, "one saw 1, the other 2");
            assert_eq!(counter.get(1, 0), 2);
        });
    }

    /// A reader racing a cooldown write sees either no cooldown or the whole new one.
    #[test]
    fn cooldown_publish_is_atomic() {
        loom::model(|| {
            let cell = Arc::new(CooldownCell::new());
            let writer = Arc::clone(&cell);
            let t = thread::spawn(move || writer.add(0, 100, 429, 1e-7, i64::MIN));
            let active = cell.is_active(50);
            if active {
                assert!(cell.active_info(50).is_some());
            }
            t.join().unwrap();
            assert!(cell.is_active(50));
            assert!(!cell.is_active(100));
        });
    }
}
