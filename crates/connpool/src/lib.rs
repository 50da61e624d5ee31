#![cfg_attr(docsrs, feature(doc_cfg))]
// The guide's examples run the Redis backend, so they are the crate docs (and doctests) where
// it is built.
#![cfg_attr(feature = "redis", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "redis"),
    doc = "Pooled connections: a bounded, deadpool-managed pool generic over the connection \
           type. The Redis backend and the crate guide (`README.md`) come with feature `redis`."
)]

mod config;
mod error;
mod metrics;
mod pool;
#[cfg(feature = "redis")]
pub mod redis;
mod sync;
mod url;

pub use config::{MAX_POOL_SIZE, PoolConfig};
pub use error::{BackendError, Error, Operation, PoolError, Reported, Result};
pub use metrics::PoolMetrics;
pub use pool::{Object, Pool};
pub use url::redact_url;

/// What a backend implements to be pooled: deadpool's `Manager` trait, re-exported.
///
/// `create` opens a connection and `recycle` decides whether a returned one may be handed
/// out again. [`Pool`] puts [`PoolConfig::command_timeout`] on `recycle` and counts both in
/// [`PoolMetrics`]; `create` is bounded by the manager itself (it knows what it dials, so it can
/// name it in the error), using [`PoolConfig::connect_timeout`].
pub use deadpool::managed::Manager;

/// Per-connection statistics (age, last use, recycle count) passed to [`Manager::recycle`].
pub use deadpool::managed::Metrics as ObjectMetrics;

/// Identifies a connection within its pool, from [`Object::id`].
pub use deadpool::managed::ObjectId;

/// The error a [`Manager::recycle`] returns to have the connection dropped.
pub use deadpool::managed::RecycleError;

/// The result type of [`Manager::recycle`].
pub use deadpool::managed::RecycleResult;

/// A snapshot of a pool's size: `max_size`, `size`, `available`, `waiting`.
pub use deadpool::managed::Status;
