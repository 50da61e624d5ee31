//! Pool counters: [`PoolMetrics`] (the snapshot users see) and the atomics behind it.

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a pool's counters since it was built, from [`Pool::metrics`](crate::Pool::metrics).
///
/// Each field is a plain monotonic count. Fields are read one by one, so a snapshot taken while
/// other tasks use the pool may mix slightly different instants; each value on its own is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Connections opened successfully.
    pub created: u64,
    /// Idle connections that passed their recycle check and were handed out again.
    pub recycled: u64,
    /// Idle connections that failed their recycle check (or marked themselves broken, or timed
    /// out) and were dropped instead of being handed out.
    pub recycle_failures: u64,
    /// Successful [`Pool::get`](crate::Pool::get) calls.
    pub checkouts: u64,
    /// [`Pool::get`](crate::Pool::get) calls that failed on a timeout.
    pub timeouts: u64,
    /// [`Pool::get`](crate::Pool::get) calls that failed otherwise (backend unreachable, pool
    /// closed).
    pub errors: u64,
}

/// The live counters: independent monotonic counts, so `Relaxed` is enough: no counter is used
/// to publish or order any other memory.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    created: AtomicU64,
    recycled: AtomicU64,
    recycle_failures: AtomicU64,
    checkouts: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    pub(crate) fn record_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_recycled(&self) {
        self.recycled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_recycle_failure(&self) {
        self.recycle_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_checkout(&self) {
        self.checkouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_timeout(&self) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> PoolMetrics {
        PoolMetrics {
            created: self.created.load(Ordering::Relaxed),
            recycled: self.recycled.load(Ordering::Relaxed),
            recycle_failures: self.recycle_failures.load(Ordering::Relaxed),
            checkouts: self.checkouts.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn each_record_bumps_its_own_counter() {
        let counters = Counters::default();
        assert_eq!(counters.snapshot(), PoolMetrics::default());
        counters.record_created();
        counters.record_recycled();
        counters.record_recycled();
        counters.record_recycle_failure();
        counters.record_checkout();
        counters.record_checkout();
        counters.record_checkout();
        counters.record_timeout();
        counters.record_error();
        counters.record_error();
        assert_eq!(
            counters.snapshot(),
            PoolMetrics {
                created: 1,
                recycled: 2,
                recycle_failures: 1,
                checkouts: 3,
                timeouts: 1,
                errors: 2,
            }
        );
    }

    #[test]
    fn threads_lose_no_increment() {
        let counters = Counters::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        counters.record_checkout();
                        counters.record_recycled();
                    }
                });
            }
        });
        let snap = counters.snapshot();
        assert_eq!(snap.checkouts, 40_000);
        assert_eq!(snap.recycled, 40_000);
    }
}

/// Loom model: concurrent recorders never lose an increment, and a concurrent snapshot only ever
/// sees values between the start and the end state (`sync`'s atomics are loom's here). Run with
/// `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p fastllm-connpool --release`.
#[cfg(all(test, loom))]
mod loom_model {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    #[test]
    fn concurrent_records_are_all_counted() {
        loom::model(|| {
            let counters = Arc::new(Counters::default());
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let counters = Arc::clone(&counters);
                    thread::spawn(move || {
                        counters.record_created();
                        counters.record_checkout();
                    })
                })
                .collect();

            let seen = counters.snapshot();
            assert!(seen.created <= 2 && seen.checkouts <= 2);

            for worker in workers {
                worker.join().unwrap();
            }
            let done = counters.snapshot();
            assert_eq!(done.created, 2);
            assert_eq!(done.checkouts, 2);
            assert_eq!(done.errors, 0);
        });
    }

    #[test]
    fn snapshot_is_monotonic_per_field() {
        loom::model(|| {
            let counters = Arc::new(Counters::default());
            let writer = {
                let counters = Arc::clone(&counters);
                thread::spawn(move || {
                    counters.record_timeout();
                    counters.record_timeout();
                })
            };
            let first = counters.snapshot().timeouts;
            let second = counters.snapshot().timeouts;
            assert!(first <= second, "{first} then {second}");
            writer.join().unwrap();
            assert_eq!(counters.snapshot().timeouts, 2);
        });
    }
}
