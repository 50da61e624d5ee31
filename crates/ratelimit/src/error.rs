//! The crate's error type.
//!
//! Being rate limited is not an error: it is a [`Code::OverLimit`](crate::Code::OverLimit)
//! response or a [`GcraOutcome::NotUntil`](crate::GcraOutcome::NotUntil). Errors are kept for
//! misuse: a configuration that cannot mean anything, or arguments that do not fit together.

/// Everything that can go wrong when configuring or calling a limiter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A limit, window or quota that cannot be enforced (zero or negative window, a window
    /// longer than [`MAX_WINDOW_SECS`](crate::MAX_WINDOW_SECS), a limit above `i64::MAX`, ...).
    #[error("invalid rate-limit configuration for `{field}`: {reason}")]
    InvalidConfig {
        /// The setting that was rejected.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// `descriptors` and `increments` given to
    /// [`MemoryStore::atomic_check_and_increment_by_n`](crate::MemoryStore::atomic_check_and_increment_by_n)
    /// have different lengths (LiteLLM raises `ValueError` here).
    #[error(
        "descriptors and increments must have the same length (got {descriptors} and {increments})"
    )]
    LengthMismatch {
        /// Number of descriptors passed.
        descriptors: usize,
        /// Number of increments passed.
        increments: usize,
    },
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Redis could not give a verdict: it was unreachable, too slow, or answered something the
/// store cannot read. Returned by the [`RedisStore`](crate::RedisStore) operations that have
/// nothing to decide (settlements, releases, reads), and carried inside
/// [`Unverified`](crate::Unverified) by those that do, where the
/// [`FailMode`](crate::FailMode) turns it into an admission or a refusal.
///
/// The one backend-error shape of the stores on `fastllm-connpool`'s pool (the router's Redis
/// state reports its failures with it too); the limiter's are named `rate-limit <operation>`.
#[cfg(all(feature = "redis", not(loom)))]
pub use fastllm_connpool::BackendError;

/// The limiter's [`BackendError`]s: the component is `"rate-limit"`.
#[cfg(all(feature = "redis", not(loom)))]
pub(crate) trait RateLimitBackendError {
    /// The pool or Redis failed during `operation`.
    fn redis(operation: &'static str, source: fastllm_connpool::Error) -> Self;
    /// Redis answered `operation` with something the store cannot read.
    fn reply(operation: &'static str, detail: impl Into<String>) -> Self;
}

#[cfg(all(feature = "redis", not(loom)))]
impl RateLimitBackendError for BackendError {
    fn redis(operation: &'static str, source: fastllm_connpool::Error) -> Self {
        Self::failed("rate-limit", operation, source)
    }

    fn reply(operation: &'static str, detail: impl Into<String>) -> Self {
        Self::unexpected_reply("rate-limit", operation, detail)
    }
}
