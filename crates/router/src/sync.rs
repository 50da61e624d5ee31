//! The loom shim: every synchronisation primitive the crate itself uses comes from here.
//!
//! In the crate's own tests under `--cfg loom` (`cfg(all(test, loom))`) these are loom's
//! model-checked versions; everywhere else, a `--cfg loom` build of the library included,
//! `std`'s. The loom models sit next to the code they check (`counter.rs`), and the crate's
//! other unit tests are left out of loom runs, since they build these primitives outside
//! `loom::model`. `dashmap` and `arc-swap` internals are not modelled: the stress and property
//! tests in `tests/` cover those.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU64, Ordering};
#[cfg(all(test, loom))]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering the data if a panicking holder poisoned it.
///
/// Every critical section in this crate leaves its data consistent at each step, so a
/// poisoned lock still guards valid state; routing must keep working after a panic elsewhere.
/// loom's `Mutex::lock` returns std's `LockResult`, so one body serves both.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
