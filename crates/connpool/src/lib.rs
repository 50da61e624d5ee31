#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(not(loom), doc = include_str!("../README.md"))]
#![cfg_attr(loom, doc = "fastllm-connpool, built for loom model checking.")]

// Under `--cfg loom` only the hand-written atomics (the counters) are built, for their model:
// tokio leaves out `tokio::net` there, so the Redis driver, and with it the rest, cannot build.
mod metrics;
mod sync;

#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod pool;
#[cfg(not(loom))]
pub mod redis;
#[cfg(not(loom))]
mod url;

// The `redis-server` harness for tests and benchmarks (feature `test-util`), not in loom builds.
#[cfg(all(feature = "test-util", not(loom)))]
pub mod testing;

pub use metrics::PoolMetrics;

#[cfg(not(loom))]
pub use {
    config::{MAX_POOL_SIZE, PoolConfig},
    error::{Error, Operation, PoolError, Result},
    pool::{Object, Pool},
    url::redact_url,
};

/// What a backend implements to be pooled: deadpool's `Manager` trait, re-exported.
///
/// `create` opens a connection and `recycle` decides whether a returned one may be handed
/// out again. [`Pool`] puts [`PoolConfig::command_timeout`] on `recycle` and counts both in
/// [`PoolMetrics`]; `create` is bounded by the manager itself (it knows what it dials, so it can
/// name it in the error), using [`PoolConfig::connect_timeout`].
#[cfg(not(loom))]
pub use deadpool::managed::Manager;

/// Per-connection statistics (age, last use, recycle count) passed to [`Manager::recycle`].
#[cfg(not(loom))]
pub use deadpool::managed::Metrics as ObjectMetrics;

/// Identifies a connection within its pool, from [`Object::id`].
#[cfg(not(loom))]
pub use deadpool::managed::ObjectId;

/// The error a [`Manager::recycle`] returns to have the connection dropped.
#[cfg(not(loom))]
pub use deadpool::managed::RecycleError;

/// The result type of [`Manager::recycle`].
#[cfg(not(loom))]
pub use deadpool::managed::RecycleResult;

/// A snapshot of a pool's size: `max_size`, `size`, `available`, `waiting`.
#[cfg(not(loom))]
pub use deadpool::managed::Status;
