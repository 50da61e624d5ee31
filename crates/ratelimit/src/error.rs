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
/// Cloning is cheap: the driver error is shared.
#[cfg(all(feature = "redis", not(loom)))]
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The pool or Redis failed: no connection ([`fastllm_connpool::Error::Unavailable`]), a
    /// timeout ([`fastllm_connpool::Error::Timeout`]), or an error reply from the script. The
    /// connection pool's error, and the driver's under it, stay reachable through
    /// [`source`](std::error::Error::source).
    #[error("rate-limit {operation} on redis failed")]
    Redis {
        /// What the store was doing (`"should_rate_limit"`, `"release_slots"`, ...).
        operation: &'static str,
        /// The pool's error.
        #[source]
        source: std::sync::Arc<fastllm_connpool::Error>,
    },
    /// Redis answered, but not with what the store's script returns (a key holding some other
    /// type or a non-number, or a reply of the wrong shape).
    #[error("rate-limit {operation} on redis: unexpected reply ({detail})")]
    Reply {
        /// What the store was doing.
        operation: &'static str,
        /// What was wrong with the reply.
        detail: String,
    },
}

#[cfg(all(feature = "redis", not(loom)))]
impl BackendError {
    pub(crate) fn redis(operation: &'static str, source: fastllm_connpool::Error) -> Self {
        Self::Redis {
            operation,
            source: std::sync::Arc::new(source),
        }
    }

    pub(crate) fn reply(operation: &'static str, detail: impl Into<String>) -> Self {
        Self::Reply {
            operation,
            detail: detail.into(),
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Redis { operation, .. } | Self::Reply { operation, .. } => operation,
        }
    }

    /// The connection pool's error, when the failure came from the pool or Redis.
    pub fn pool_error(&self) -> Option<&fastllm_connpool::Error> {
        match self {
            Self::Redis { source, .. } => Some(source),
            Self::Reply { .. } => None,
        }
    }
}
