//! The loom shim: every synchronisation primitive the crate itself uses comes from here.
//!
//! In this crate's own tests under `--cfg loom` these are loom's model-checked versions, so the
//! models beside the code (`metrics.rs`) check them; everywhere else, including other crates
//! built with `--cfg loom`, they are `std`'s. Deadpool's and tokio's own internals are not
//! modelled.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
