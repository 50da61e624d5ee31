//! Errors of this crate.

/// An error from counting tokens.
///
/// Most inputs cannot fail; errors mean the caller asked for something this crate does not
/// know (`UnknownEncoding`) or an input that LiteLLM would count in a way this crate does not
/// reproduce exactly (`Unsupported`), in which case a caller that needs LiteLLM's exact answer
/// should ask LiteLLM itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The encoding name is not one of the tiktoken encodings this crate ships.
    #[error(
        "unknown encoding {0:?}; expected one of r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base, o200k_harmony"
    )]
    UnknownEncoding(String),
    /// A configuration value is out of its allowed range.
    #[error("invalid {name}: {value} (allowed {min}..={max})")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The smallest allowed value.
        min: usize,
        /// The largest allowed value.
        max: usize,
    },
    /// The input is one LiteLLM counts by a rule this crate does not reproduce exactly
    /// (for example a document block, a remote image with `detail: "high"`, or content that
    /// makes LiteLLM raise). The message says which part.
    #[error("unsupported input: {0}")]
    Unsupported(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(Error::Unsupported(what.into()))
}
