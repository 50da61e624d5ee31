//! The loom shim: every synchronisation primitive the crate uses comes from here.
//!
//! Under `--cfg loom` these are loom's model-checked versions, otherwise `std`'s. Code that
//! builds any of them must then run inside `loom::model` in a loom build; see `tests/loom.rs`.

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard, RwLock,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};
#[cfg(not(loom))]
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
