//! Python exceptions and the conversion of crate errors into them.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::{PyErr, create_exception};

create_exception!(
    _native,
    FastLLMError,
    PyException,
    "Base class of every fastllm_litellm error."
);

/// Converts a crate error into the matching Python exception (the orphan rule forbids a
/// `From` impl between two foreign types).
pub(crate) trait IntoPyErr {
    fn into_py_err(self) -> PyErr;
}

impl IntoPyErr for fastllm_tokencount::Error {
    /// Every tokencount error is a bad value (an unknown encoding, a setting out of range, an
    /// input the crate does not reproduce): `ValueError`, with the crate's message.
    fn into_py_err(self) -> PyErr {
        PyValueError::new_err(self.to_string())
    }
}

/// A `TypeError` naming the argument and what it was given.
pub(crate) fn type_error(argument: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    PyTypeError::new_err(format!("{argument} must be {expected}, not {got}"))
}

/// A Redis the limiter could not use: `FastLLMError`, with the store's message (the URL's
/// password redacted).
pub(crate) fn backend_error(error: &fastllm_ratelimit::BackendError) -> PyErr {
    FastLLMError::new_err(error.to_string())
}
