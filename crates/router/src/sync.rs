//! The loom shim: every synchronisation primitive the crate itself uses comes from here.
//!
//! Under `--cfg loom` these are loom's model-checked versions, otherwise `std`'s. Code that
//! builds any of them must then run inside `loom::model` in a loom build; the models live next
//! to the code they check (`counter.rs`). `dashmap` and `arc-swap` internals are not modelled:
//! the stress and property tests in `tests/` cover those.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering the data if a panicking holder poisoned it.
///
/// Every critical section in this crate leaves its data consistent at each step, so a
/// poisoned lock still guards valid state; routing must keep working after a panic elsewhere.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(not(loom))]
    {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
