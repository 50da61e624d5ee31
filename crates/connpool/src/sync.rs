//! The loom shim: every synchronisation primitive the crate itself uses comes from here.
//!
//! Under `--cfg loom` these are loom's model-checked versions, otherwise `std`'s. Code that
//! builds any of them must then run inside `loom::model` in a loom build; the model lives next
//! to the code it checks (`metrics.rs`). Deadpool's and tokio's own internals are not modelled.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
