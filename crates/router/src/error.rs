//! The crate's error type: misuse and invalid configuration.
//!
//! Expected routing outcomes ("no healthy deployment", "over its rpm limit", "cool it down")
//! are values ([`crate::Pick`], [`crate::Admission`], [`crate::CooldownDecision`]), not errors.
//! With the `redis` feature, a Redis that fails or answers nonsense is an error too.

/// Why a configuration or an argument was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field is missing where LiteLLM requires it.
    #[error("{path}: missing required field")]
    Missing {
        /// Where in the input, e.g. `model_list[2].litellm_params.model`.
        path: String,
    },
    /// A field has a type or value LiteLLM refuses (or would fail on when routing).
    #[error("{path}: {reason}")]
    Invalid {
        /// Where in the input.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two deployments share one `model_info.id`.
    #[error("duplicate deployment id {id:?}")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// The shared state's Redis failed: no connection, a timeout, or an error reply. The
    /// pool's error, and the driver's under it, stay reachable through
    /// [`source`](std::error::Error::source).
    #[cfg(all(feature = "redis", not(loom)))]
    #[error("router {operation} on redis failed")]
    Redis {
        /// What was being done (`"write_cooldown"`, `"sync"`, ...).
        operation: &'static str,
        /// The pool's error.
        #[source]
        source: fastllm_connpool::Error,
    },
    /// The shared state's Redis answered something that is not a reply to the command sent
    /// (e.g. `INCRBYFLOAT` on a key holding a non-number gives an error reply instead, which
    /// is [`Error::Redis`]).
    #[cfg(all(feature = "redis", not(loom)))]
    #[error("router {operation} on redis: unexpected reply ({detail})")]
    RedisReply {
        /// What was being done.
        operation: &'static str,
        /// What was wrong with the reply.
        detail: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(not(loom))]
impl Error {
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(path: impl Into<String>) -> Self {
        Self::Missing { path: path.into() }
    }
}

#[cfg(all(feature = "redis", not(loom)))]
impl Error {
    pub(crate) fn redis(
        operation: &'static str,
        source: impl Into<fastllm_connpool::Error>,
    ) -> Self {
        Self::Redis {
            operation,
            source: source.into(),
        }
    }
}
