//! An already-finished awaitable, for async LiteLLM methods answered without the event loop.

use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError};
use pyo3::prelude::*;

/// A finished coroutine: `await` (or `send(None)`) gives its value at once, without a trip
/// through the event loop. It has a coroutine's `send`, `throw` and `close`, so
/// `asyncio.create_task`, `gather` and `wait_for` take it as they take a coroutine; like one,
/// it cannot be awaited twice.
#[pyclass(module = "fastllm_litellm._native")]
pub struct Ready {
    value: Option<Py<PyAny>>,
    done: bool,
}

impl Ready {
    pub(crate) fn new(value: Py<PyAny>) -> Self {
        Self {
            value: Some(value),
            done: false,
        }
    }

    fn finish(&mut self, py: Python<'_>) -> PyErr {
        if self.done {
            return PyRuntimeError::new_err("cannot reuse already awaited coroutine");
        }
        self.done = true;
        let value = self.value.take().unwrap_or_else(|| py.None());
        PyStopIteration::new_err((value,))
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Err(self.finish(py))
    }

    /// `send(None)` finishes with the value; anything else is refused, as by a coroutine
    /// that has not started.
    fn send(&mut self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !value.is_none() && !self.done {
            return Err(PyTypeError::new_err(
                "can't send non-None value to a just-started coroutine",
            ));
        }
        Err(self.finish(py))
    }

    /// Raises the exception thrown in, and ends, as a coroutine that has not started does.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &mut self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        self.done = true;
        self.value = None;
        if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            return Err(PyErr::from_value(typ.clone()));
        }
        let exc = match val {
            Some(v) if v.is_instance_of::<pyo3::exceptions::PyBaseException>() => v.clone(),
            Some(v) if !v.is_none() => typ.call1((v,))?,
            _ => typ.call0()?,
        };
        Err(PyErr::from_value(exc))
    }

    fn close(&mut self) {
        self.done = true;
        self.value = None;
    }
}
