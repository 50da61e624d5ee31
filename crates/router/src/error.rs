//! The crate's error type: misuse and invalid configuration.
//!
//! Expected routing outcomes ("no healthy deployment", "over its rpm limit", "cool it down")
//! are values ([`crate::Pick`], [`crate::Admission`], [`crate::CooldownDecision`]), not errors.

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
