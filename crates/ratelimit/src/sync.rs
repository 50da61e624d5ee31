//! The loom shim: every synchronisation primitive the crate itself uses comes from here.
//!
//! In this crate's own unit tests under `--cfg loom` these are loom's model-checked versions,
//! so the models beside the code (`loom_tests` in `memory.rs` and `gauge.rs`) check the
//! store's real code; everywhere else, including any other build with `--cfg loom`, they are
//! `std`'s and the crate is an ordinary build. Code that builds any of them must run inside
//! `loom::model` in a loom test build, which is why the plain unit tests that build a store
//! are left out of it.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// Lock a mutex, ignoring poisoning: every critical section in this crate leaves the state
/// consistent before anything that can panic, so a poisoned lock still guards valid data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Run a loom model with exhaustive exploration (no preemption bound): every model of this
/// crate finishes in seconds that way.
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(f);
}
