//! The crate's errors: [`Error`] for misuse and invalid configuration, and, with the `redis`
//! feature, [`BackendError`] for a Redis that fails or answers nonsense.
//!
//! Expected routing outcomes ("no healthy deployment", "over its rpm limit", "cool it down")
//! are values ([`crate::Pick`], [`crate::Admission`], [`crate::CooldownDecision`]), not errors.

/// Why a configuration or an argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// The shared state's Redis failed ([`BackendError::Redis`]: no connection, a timeout, or an
/// error reply, with the pool's error, and the driver's under it, reachable through
/// [`source`](std::error::Error::source)), or answered something that is not a reply to the
/// command sent ([`BackendError::Reply`]).
///
/// The one backend-error shape of the stores on `fastllm-connpool`'s pool, shared with the rate
/// limiter's Redis store; the router's are named `router <operation>` (`"router sync on redis
/// failed"`).
#[cfg(feature = "redis")]
pub use fastllm_connpool::BackendError;

/// [`BackendError::Redis`] of the router's `operation`.
#[cfg(feature = "redis")]
pub(crate) fn redis_failed(
    operation: &'static str,
    source: impl Into<fastllm_connpool::Error>,
) -> BackendError {
    BackendError::failed("router", operation, source)
}

/// [`BackendError::Reply`] of the router's `operation`.
#[cfg(feature = "redis")]
pub(crate) fn unexpected_reply(operation: &'static str, detail: impl Into<String>) -> BackendError {
    BackendError::unexpected_reply("router", operation, detail)
}
