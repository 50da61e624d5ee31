//! Bindings of `fastllm-ratelimit`: LiteLLM's v3 limiter decisions in memory.

use std::time::Duration;

use fastllm_ratelimit::{
    CheckOptions, Clock, Code, Config, Descriptor, FakeClock, KeyTtl, Limits, MemoryStore,
    MonotonicClock, Response, SlotId,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::errors::type_error;

/// The store's clock: a settable one (for replaying traces) or the monotonic one.
enum AnyClock {
    Fake(FakeClock),
    Monotonic(MonotonicClock),
}

impl Clock for AnyClock {
    fn now(&self) -> Duration {
        match self {
            AnyClock::Fake(c) => c.now(),
            AnyClock::Monotonic(c) => c.now(),
        }
    }
}

/// LiteLLM's v3 proxy limiter (`should_rate_limit`) on its in-memory path.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct RateLimiter {
    store: MemoryStore<AnyClock>,
    fake: Option<FakeClock>,
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a finite number of seconds >= 0, got {value}"
        ))
    })
}

fn optional_int(rate_limit: &Bound<'_, PyDict>, field: &str) -> PyResult<Option<i64>> {
    match rate_limit.get_item(field)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .extract::<i64>()
            .map(Some)
            .map_err(|_| type_error(&format!("rate_limit[{field:?}]"), "an int or None", &v)),
    }
}

fn string_field(descriptor: &Bound<'_, PyDict>, field: &str) -> PyResult<String> {
    let value = descriptor
        .get_item(field)?
        .ok_or_else(|| PyValueError::new_err(format!("a rate-limit descriptor needs {field:?}")))?;
    value
        .cast::<PyString>()
        .map_err(|_| type_error(&format!("descriptor[{field:?}]"), "str", &value))?
        .to_str()
        .map(str::to_owned)
}

/// A LiteLLM `RateLimitDescriptor` dict → a descriptor.
fn descriptor(item: &Bound<'_, PyAny>) -> PyResult<Descriptor> {
    let dict = item
        .cast::<PyDict>()
        .map_err(|_| type_error("a rate-limit descriptor", "a dict", item))?;
    let key = string_field(dict, "key")?;
    let value = string_field(dict, "value")?;
    let limits = match dict.get_item("rate_limit")? {
        None => Limits::new(),
        Some(v) if v.is_none() => Limits::new(),
        Some(v) => {
            let rl = v
                .cast::<PyDict>()
                .map_err(|_| type_error("descriptor[\"rate_limit\"]", "a dict or None", &v))?;
            Limits::from_litellm(
                optional_int(rl, "requests_per_unit")?,
                optional_int(rl, "tokens_per_unit")?,
                optional_int(rl, "max_parallel_requests")?,
                optional_int(rl, "window_size")?,
            )
            .map_err(|e| PyValueError::new_err(e.to_string()))?
        }
    };
    Descriptor::new(key, value, limits).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A response as LiteLLM's `RateLimitResponse` dict.
fn response_dict<'py>(py: Python<'py>, response: &Response) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("overall_code", response.overall.as_str())?;
    let statuses = PyList::empty(py);
    for status in &response.statuses {
        let s = PyDict::new(py);
        s.set_item("code", status.code.as_str())?;
        s.set_item("current_limit", status.current_limit)?;
        s.set_item("limit_remaining", status.limit_remaining)?;
        s.set_item("rate_limit_type", status.rate_limit_type.as_str())?;
        s.set_item("descriptor_key", status.descriptor_key())?;
        if let Some(value) = status.descriptor_value() {
            s.set_item("descriptor_value", value)?;
        }
        statuses.append(s)?;
    }
    out.set_item("statuses", statuses)?;
    Ok(out)
}

#[pymethods]
impl RateLimiter {
    /// A limiter with LiteLLM's settings: `window_size` (`LITELLM_RATE_LIMIT_WINDOW_SIZE`,
    /// seconds), and `fake_clock_start` (epoch seconds) to drive time by hand with
    /// `set_time`/`advance` instead of the monotonic clock. `key_ttl="never"` matches LiteLLM
    /// driven by a fake `time_provider` (its cache then never expires keys during a test).
    #[new]
    #[pyo3(signature = (*, window_size=60, fake_clock_start=None, key_ttl="follow_clock"))]
    fn py_new(window_size: i64, fake_clock_start: Option<f64>, key_ttl: &str) -> PyResult<Self> {
        let window_size_secs = u64::try_from(window_size)
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "window_size must be a positive int, got {window_size}"
                ))
            })?;
        let key_ttl = match key_ttl {
            "follow_clock" => KeyTtl::FollowClock,
            "never" => KeyTtl::Never,
            other => {
                return Err(PyValueError::new_err(format!(
                    "key_ttl must be \"follow_clock\" or \"never\", got {other:?}"
                )));
            }
        };
        let (clock, fake) = match fake_clock_start {
            Some(start) => {
                let fake = FakeClock::new();
                fake.set(seconds(start, "fake_clock_start")?);
                (AnyClock::Fake(fake.clone()), Some(fake))
            }
            None => (AnyClock::Monotonic(MonotonicClock::new()), None),
        };
        let config = Config {
            window_size_secs,
            key_ttl,
            ..Config::default()
        };
        let store = MemoryStore::with_config(config, clock)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self { store, fake })
    }

    /// LiteLLM's `should_rate_limit(descriptors, read_only=..., skip_tpm_check=...,
    /// parallel_slot_id=..., skip_parallel_check=...)`, returning its response dict.
    #[pyo3(signature = (descriptors, read_only=false, skip_tpm_check=false, parallel_slot_id=None, skip_parallel_check=false))]
    fn should_rate_limit<'py>(
        &self,
        py: Python<'py>,
        descriptors: &Bound<'py, PyAny>,
        read_only: bool,
        skip_tpm_check: bool,
        parallel_slot_id: Option<&str>,
        skip_parallel_check: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let list = descriptors
            .cast::<PyList>()
            .map_err(|_| type_error("descriptors", "a list of dicts", descriptors))?;
        let parsed = list
            .iter()
            .map(|d| descriptor(&d))
            .collect::<PyResult<Vec<_>>>()?;
        let options = CheckOptions {
            read_only,
            skip_tpm_check,
            skip_parallel_check,
            slot_id: parallel_slot_id.map(SlotId::new),
        };
        let admission = self.store.should_rate_limit(&parsed, &options);
        response_dict(py, &admission.response)
    }

    /// Whether a response dict refused the request.
    #[staticmethod]
    fn is_over_limit(response: &Bound<'_, PyDict>) -> PyResult<bool> {
        Ok(response.get_item("overall_code")?.is_some_and(|c| {
            c.extract::<&str>()
                .is_ok_and(|c| c == Code::OverLimit.as_str())
        }))
    }

    /// Sets the fake clock to `seconds` (epoch seconds).
    fn set_time(&self, seconds_now: f64) -> PyResult<()> {
        self.fake_clock()?.set(seconds(seconds_now, "seconds")?);
        Ok(())
    }

    /// Moves the fake clock forward.
    fn advance(&self, by: f64) -> PyResult<()> {
        self.fake_clock()?.advance(seconds(by, "by")?);
        Ok(())
    }
}

impl RateLimiter {
    fn fake_clock(&self) -> PyResult<&FakeClock> {
        self.fake.as_ref().ok_or_else(|| {
            PyTypeError::new_err(
                "this RateLimiter runs on the monotonic clock; pass fake_clock_start",
            )
        })
    }
}
