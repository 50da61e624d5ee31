//! Bindings of `fastllm-ratelimit`: LiteLLM's v3 limiter decisions in memory and on Redis.

use std::time::Duration;

use fastllm_connpool::PoolConfig;
use fastllm_connpool::redis::RedisPool;
use fastllm_ratelimit::{
    CheckOptions, Clock, Code, Config, Descriptor, FailMode, FakeClock, KeyTtl, Limits,
    MemoryStore, MonotonicClock, RedisConfig, RedisStore, Response, SlotAcquisition, SlotId,
    WallTime,
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

    fn wall(&self) -> WallTime {
        match self {
            AnyClock::Fake(c) => c.wall(),
            AnyClock::Monotonic(c) => c.wall(),
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
        let (parsed, options) = check_args(
            descriptors,
            read_only,
            skip_tpm_check,
            parallel_slot_id,
            skip_parallel_check,
        )?;
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

/// The limiter on a Redis shared with LiteLLM proxies: `fastllm_ratelimit::RedisStore`, with
/// LiteLLM's keys and scripts' semantics. Calls block the calling thread (with the GIL
/// released) on a small private tokio runtime.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct RedisRateLimiter {
    store: RedisStore,
    runtime: tokio::runtime::Runtime,
}

/// `should_rate_limit`'s arguments as the crate's descriptors and options.
fn check_args(
    descriptors: &Bound<'_, PyAny>,
    read_only: bool,
    skip_tpm_check: bool,
    parallel_slot_id: Option<&str>,
    skip_parallel_check: bool,
) -> PyResult<(Vec<Descriptor>, CheckOptions)> {
    let options = CheckOptions {
        read_only,
        skip_tpm_check,
        skip_parallel_check,
        slot_id: parallel_slot_id.map(SlotId::new),
    };
    Ok((parse_descriptors(descriptors)?, options))
}

/// A list of LiteLLM `RateLimitDescriptor` dicts → descriptors.
fn parse_descriptors(descriptors: &Bound<'_, PyAny>) -> PyResult<Vec<Descriptor>> {
    let list = descriptors
        .cast::<PyList>()
        .map_err(|_| type_error("descriptors", "a list of dicts", descriptors))?;
    list.iter().map(|d| descriptor(&d)).collect()
}

/// A response dict, with `"unverified"` (why Redis did not answer) when the fail mode decided.
fn checked_dict<'py>(
    py: Python<'py>,
    response: &Response,
    unverified: Option<&fastllm_ratelimit::Unverified>,
) -> PyResult<Bound<'py, PyDict>> {
    let out = response_dict(py, response)?;
    if let Some(u) = unverified {
        out.set_item("unverified", format!("{u}: {}", u.error))?;
    }
    Ok(out)
}

#[pymethods]
impl RedisRateLimiter {
    /// A limiter on the Redis at `url` (`redis://[:password@]host:port/db`). `window_size`
    /// and `slot_ttl` (seconds) must match every LiteLLM process on that Redis;
    /// `fail_closed` refuses checks Redis cannot answer (LiteLLM's
    /// `fail_closed_rate_limit_enforcement`). Answers as one LiteLLM process would, memory
    /// mirror included (`RedisStore::with_litellm_mirror`). No connection opens until the
    /// first call.
    #[new]
    #[pyo3(signature = (url, *, window_size=60, slot_ttl=3600, fail_closed=false))]
    fn py_new(url: &str, window_size: i64, slot_ttl: i64, fail_closed: bool) -> PyResult<Self> {
        let positive = |value: i64, what: &str| {
            u64::try_from(value).ok().filter(|v| *v > 0).ok_or_else(|| {
                PyValueError::new_err(format!("{what} must be a positive int, got {value}"))
            })
        };
        let config = RedisConfig {
            window_size_secs: positive(window_size, "window_size")?,
            slot_ttl_secs: positive(slot_ttl, "slot_ttl")?,
            fail_mode: if fail_closed {
                FailMode::Closed
            } else {
                FailMode::Open
            },
        };
        let pool = RedisPool::from_url(url, PoolConfig::default())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let store = RedisStore::new(pool, config)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .with_litellm_mirror();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fastllm-redis")
            .enable_all()
            .build()
            .map_err(|e| PyValueError::new_err(format!("cannot start the Redis runtime: {e}")))?;
        Ok(Self { store, runtime })
    }

    /// LiteLLM's `should_rate_limit` on Redis, in one script call; the response dict.
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
        let (parsed, options) = check_args(
            descriptors,
            read_only,
            skip_tpm_check,
            parallel_slot_id,
            skip_parallel_check,
        )?;
        let checked = py.detach(|| {
            self.runtime
                .block_on(self.store.should_rate_limit(&parsed, &options))
        });
        checked_dict(py, &checked.value.response, checked.error.as_ref())
    }

    /// LiteLLM's `reserve_tpm_tokens(descriptors, estimated_tokens)` on Redis: the response dict.
    fn reserve_tpm_tokens<'py>(
        &self,
        py: Python<'py>,
        descriptors: &Bound<'py, PyAny>,
        estimated_tokens: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let parsed = parse_descriptors(descriptors)?;
        let checked = py.detach(|| {
            self.runtime.block_on(
                self.store
                    .reserve_tpm_tokens(&parsed, estimated_tokens, &[]),
            )
        });
        checked_dict(py, &checked.value.response, checked.error.as_ref())
    }

    /// Gives back slot `slot_id` on the gauges of `scopes` (`[(key, value), ...]`); each
    /// gauge's remaining in-flight count.
    fn release_slots(
        &self,
        py: Python<'_>,
        slot_id: &str,
        scopes: Vec<(String, String)>,
    ) -> PyResult<Vec<i64>> {
        let slot = SlotAcquisition {
            slot_id: SlotId::new(slot_id),
            scopes: scopes
                .iter()
                .map(|(k, v)| std::sync::Arc::from(format!("{{{k}:{v}}}")))
                .collect(),
        };
        py.detach(|| self.runtime.block_on(self.store.release_slots(&slot)))
            .map_err(|e| crate::errors::backend_error(&e))
    }
}
