//! Calls and fallbacks of each patched feature, as `fastllm_litellm.status()` reports them.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

#[derive(Default)]
struct StatsInner {
    calls: u64,
    fallbacks: u64,
    last_fallback_reason: Option<String>,
}

/// Calls and fallbacks of one patched feature.
#[pyclass(frozen, module = "fastllm_litellm._native")]
#[derive(Default)]
pub struct Stats {
    inner: Mutex<StatsInner>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsInner> {
        // A panic while holding this lock cannot leave the counters inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one call, and the reason when it was handed back.
    pub fn record(&self, fallback: Option<&str>) {
        let mut inner = self.lock();
        inner.calls += 1;
        if let Some(reason) = fallback {
            inner.fallbacks += 1;
            inner.last_fallback_reason = Some(reason.to_owned());
        }
    }
}

#[pymethods]
impl Stats {
    #[new]
    fn py_new() -> Self {
        Self::default()
    }

    /// Counts one call served natively.
    pub(crate) fn record_call(&self) {
        self.record(None);
    }

    /// Counts one call handed to LiteLLM's own function, and why.
    pub(crate) fn record_fallback(&self, reason: &str) {
        self.record(Some(reason));
    }

    /// `{"calls": int, "fallbacks": int, "last_fallback_reason": str | None}`.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.lock();
        let dict = PyDict::new(py);
        dict.set_item("calls", inner.calls)?;
        dict.set_item("fallbacks", inner.fallbacks)?;
        dict.set_item(
            "last_fallback_reason",
            inner.last_fallback_reason.as_deref(),
        )?;
        Ok(dict)
    }

    /// Sets every count back to zero.
    fn reset(&self) {
        *self.lock() = StatsInner::default();
    }
}
