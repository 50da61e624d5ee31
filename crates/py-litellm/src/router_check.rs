//! The router's per-deployment rate-limit check (`ModelRateLimitingCheck`'s `pre_call_check`
//! and `async_pre_call_check`), decided in one native call.
//!
//! The usage counters stay where LiteLLM keeps them, in the router's in-memory cache, and
//! are read and counted through that cache's own `get_cache` / `increment_cache`, the
//! methods LiteLLM's async and sync wrappers end in, so TTLs, eviction and value decoding are
//! LiteLLM's own. What runs natively is everything around them: reading the deployment's
//! limits, the clock's minute, the cache keys and the decision. A deployment or cache this
//! path does not reproduce (Redis, itpm/otpm, daily limits, non-int limits, a subclass
//! anywhere) is answered `None` before anything changes, and LiteLLM's method decides.

use fastllm_router::WallTime;
use fastllm_router::litellm::MinuteLabels;
use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString, PyTuple, PyType};

use crate::cache_steps::{InMemoryCacheSteps, Memory, swallowed};
use crate::clock::since_epoch;
use crate::handback::Handback;
use crate::stats::Stats;

/// A limit of the deployment's (`tpm`/`rpm`): absent, or an exact `int` this path takes.
enum Limit<'py> {
    Absent,
    Int(Bound<'py, PyAny>),
}

/// `Ok(None)` for an absent or `None` entry of `dict`.
fn entry<'py>(
    dict: Option<&Bound<'py, PyDict>>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(dict) = dict else { return Ok(None) };
    Ok(dict.get_item(key)?.filter(|v| !v.is_none()))
}

/// A section of the deployment (`litellm_params`, `model_info`): absent, or an exact dict.
fn section<'py>(
    deployment: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> Result<Option<Bound<'py, PyDict>>, Handback> {
    match deployment.get_item(key) {
        Ok(None) => Ok(None),
        Ok(Some(v)) => v
            .cast_into_exact::<PyDict>()
            .map(Some)
            .map_err(|_| "a deployment section that is not a dict"),
        Err(_) => Err("a deployment dict that cannot be read"),
    }
}

/// An exact `str` or absent/`None`, as the deployment's names must be for LiteLLM's model of
/// it (`_DailyLimitDeployment`) to validate as this path assumes.
fn text_or_none<'py>(
    value: Option<Bound<'py, PyAny>>,
) -> Result<Option<Bound<'py, PyString>>, Handback> {
    match value {
        None => Ok(None),
        Some(v) => v
            .cast_into_exact::<PyString>()
            .map(Some)
            .map_err(|_| "a deployment name or id that is not a str"),
    }
}

/// The deployment's `tpm`/`rpm` limit as LiteLLM resolves it: absent, or an exact `int`.
fn limit<'py>(
    deployment: &Deployment<'py>,
    key: &Bound<'py, PyString>,
) -> Result<Limit<'py>, Handback> {
    match deployment.first(key) {
        Err(_) => Err("a deployment dict that cannot be read"),
        Ok(None) => Ok(Limit::Absent),
        Ok(Some(v)) if v.cast_exact::<PyInt>().is_ok() => Ok(Limit::Int(v)),
        Ok(Some(_)) => Err("a tpm/rpm limit that is not an int"),
    }
}

/// The memory tier of a router cache, if the cache is LiteLLM's own `DualCache`, memory only,
/// over LiteLLM's own `InMemoryCache`.
pub(crate) fn memory_tier<'py>(
    cache: &Bound<'py, PyAny>,
    dual_cache: &Bound<'py, PyType>,
    in_memory_cache: &Bound<'py, PyType>,
) -> PyResult<Result<Bound<'py, PyAny>, Handback>> {
    let py = cache.py();
    if !cache.get_type().is(dual_cache) {
        return Ok(Err("a cache that is not LiteLLM's DualCache"));
    }
    if !cache.getattr(intern!(py, "redis_cache"))?.is_none() {
        return Ok(Err("a cache with Redis"));
    }
    let memory = cache.getattr(intern!(py, "in_memory_cache"))?;
    if !memory.get_type().is(in_memory_cache) {
        return Ok(Err(
            "a cache whose memory tier is not LiteLLM's InMemoryCache",
        ));
    }
    Ok(Ok(memory))
}

/// A deployment as both checks read it: an exact dict, its `litellm_params` and `model_info`
/// sections (absent or exact dicts), and the `model` and `id` its keys are made of.
struct Deployment<'py> {
    dict: Bound<'py, PyDict>,
    params: Option<Bound<'py, PyDict>>,
    info: Option<Bound<'py, PyDict>>,
    /// `"{id}:{model}"`, as LiteLLM formats them into its keys.
    prefix: String,
}

impl<'py> Deployment<'py> {
    fn read(deployment: &Bound<'py, PyAny>) -> PyResult<Result<Self, Handback>> {
        let py = deployment.py();
        let Ok(dict) = deployment.cast_exact::<PyDict>() else {
            return Ok(Err("a deployment that is not a dict"));
        };
        let (params, info) = match (
            section(dict, intern!(py, "litellm_params")),
            section(dict, intern!(py, "model_info")),
        ) {
            (Ok(p), Ok(i)) => (p, i),
            (Err(why), _) | (_, Err(why)) => return Ok(Err(why)),
        };
        let model = match text_or_none(entry(params.as_ref(), intern!(py, "model"))?) {
            Ok(m) => m,
            Err(why) => return Ok(Err(why)),
        };
        let id = match text_or_none(entry(info.as_ref(), intern!(py, "id"))?) {
            Ok(i) => i,
            Err(why) => return Ok(Err(why)),
        };
        let prefix = format!("{}:{}", shown(id.as_ref())?, shown(model.as_ref())?);
        Ok(Ok(Self {
            dict: dict.clone(),
            params,
            info,
            prefix,
        }))
    }

    /// The first of the top-level, `litellm_params` and `model_info` values of `key` that
    /// is not `None`.
    fn first(&self, key: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
        for d in [Some(&self.dict), self.params.as_ref(), self.info.as_ref()] {
            if let Some(v) = entry(d, key)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

/// `HH-MM` of the current UTC time, as `datetime.now(timezone.utc).strftime("%H-%M")`.
fn utc_minute() -> String {
    let unix_millis = i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX);
    WallTime {
        unix_millis,
        utc_offset_secs: 0,
    }
    .utc_minute()
    .hh_mm()
}

/// `str(value)` of a name or id: the str itself, or `"None"`.
fn shown(value: Option<&Bound<'_, PyString>>) -> PyResult<String> {
    Ok(match value {
        Some(s) => s.to_str()?.to_owned(),
        None => "None".to_owned(),
    })
}

/// The check, natively, for `ModelRateLimitingCheck` instances on a memory-only router cache.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct ModelRateLimitChecks {
    stats: Py<Stats>,
    dual_cache: Py<PyType>,
    in_memory_cache: Py<PyType>,
    utc_clock: Py<PyAny>,
    routing_args: Py<PyAny>,
    datetime: Py<PyType>,
    steps: Py<InMemoryCacheSteps>,
}

/// What the call decided: `None` admitted, else the refused kind with its limit and usage.
type Verdict<'py> = Option<(&'static str, Bound<'py, PyAny>, Bound<'py, PyAny>)>;

/// What the native path will do: admit at once (LiteLLM's check admits when its clock raises),
/// or read and count the deployment's usage.
enum Plan<'py> {
    Admit,
    Count {
        memory: Bound<'py, PyAny>,
        tpm: Limit<'py>,
        rpm: Limit<'py>,
        prefix: String,
        minute: String,
        ttl: Bound<'py, PyAny>,
    },
}

impl ModelRateLimitChecks {
    /// Everything before the first read of the cache: no state changes, so any input this
    /// path does not reproduce (or an error reading it) hands the call back.
    fn plan<'py>(
        &self,
        check: &Bound<'py, PyAny>,
        deployment: &Bound<'py, PyAny>,
    ) -> PyResult<Result<Plan<'py>, Handback>> {
        let py = check.py();
        // The router's cache: LiteLLM's own DualCache, memory only.
        let memory = match memory_tier(
            &check.getattr(intern!(py, "dual_cache"))?,
            self.dual_cache.bind(py),
            self.in_memory_cache.bind(py),
        )? {
            Ok(m) => m,
            Err(why) => return Ok(Err(why)),
        };
        // The deployment, as LiteLLM reads it.
        let deployment = match Deployment::read(deployment)? {
            Ok(d) => d,
            Err(why) => return Ok(Err(why)),
        };
        for key in [intern!(py, "itpm"), intern!(py, "otpm")] {
            if deployment.first(key)?.is_some() {
                return Ok(Err("a deployment with itpm/otpm limits"));
            }
        }
        for key in [
            intern!(py, "tpd"),
            intern!(py, "rpd"),
            intern!(py, "daily_reset_time"),
        ] {
            if entry(deployment.params.as_ref(), key)?.is_some() {
                return Ok(Err("a deployment with daily limits"));
            }
        }
        // `model_name` must validate as a str (a present `None` does not).
        if let Some(name) = deployment.dict.get_item(intern!(py, "model_name"))?
            && name.cast_exact::<PyString>().is_err()
        {
            return Ok(Err("a model_name that is not a str"));
        }
        let (tpm, rpm) = match (
            limit(&deployment, intern!(py, "tpm")),
            limit(&deployment, intern!(py, "rpm")),
        ) {
            (Ok(t), Ok(r)) => (t, r),
            (Err(why), _) | (_, Err(why)) => return Ok(Err(why)),
        };
        let ttl = self.routing_args.bind(py).getattr(intern!(py, "ttl"))?;
        let prefix = deployment.prefix;
        // The clock's minute: natively for LiteLLM's default UTC clock, else through it (read
        // last, once: a raising clock makes LiteLLM's check admit, as here).
        let clock = check.getattr(intern!(py, "clock"))?;
        let minute = if clock.is(self.utc_clock.bind(py)) {
            utc_minute()
        } else {
            let now = match clock.call0() {
                Ok(now) => now,
                Err(e) if e.is_instance_of::<PyException>(py) => return Ok(Ok(Plan::Admit)),
                Err(e) => return Err(e),
            };
            if !now.get_type().is(self.datetime.bind(py)) {
                return Ok(Err("a clock that does not return a datetime"));
            }
            now.call_method1(intern!(py, "strftime"), ("%H-%M",))?
                .extract::<String>()?
        };
        Ok(Ok(Plan::Count {
            memory,
            tpm,
            rpm,
            prefix,
            minute,
            ttl,
        }))
    }

    /// The check: `Err` hands the call back (nothing changed), `Ok(None)` admits, `Ok(Some)`
    /// refuses with the kind, limit and usage.
    fn decide<'py>(
        &self,
        check: &Bound<'py, PyAny>,
        deployment: &Bound<'py, PyAny>,
        is_async: bool,
        parent_otel_span: &Bound<'py, PyAny>,
    ) -> PyResult<Result<Verdict<'py>, Handback>> {
        let py = check.py();
        let (cache, tpm, rpm, prefix, minute, ttl) = match self.plan(check, deployment) {
            Ok(Ok(Plan::Count {
                memory,
                tpm,
                rpm,
                prefix,
                minute,
                ttl,
            })) => (memory, tpm, rpm, prefix, minute, ttl),
            Ok(Ok(Plan::Admit)) => return Ok(Ok(None)),
            Ok(Err(why)) => return Ok(Err(why)),
            Err(e) if e.is_instance_of::<PyException>(py) => {
                return Ok(Err("an error reading the check or its deployment"));
            }
            Err(e) => return Err(e),
        };
        let memory = Memory::new(cache, self.steps.get());
        let swallowed = |e: PyErr| swallowed(py, e);

        if let Limit::Int(limit) = &tpm {
            let key = format!("{prefix}:tpm:{minute}");
            // The cache wrapper answers None when the read raises.
            let key = PyString::new(py, &key);
            let current = match memory.get(&key) {
                Ok(v) => v,
                Err(e) => {
                    swallowed(e)?;
                    py.None().into_bound(py)
                }
            };
            if !current.is_none() {
                match current.ge(limit) {
                    Ok(true) => return Ok(Ok(Some(("tpm", limit.clone(), current)))),
                    Ok(false) => {}
                    Err(e) => {
                        swallowed(e)?;
                        return Ok(Ok(None));
                    }
                }
            }
        }

        let Limit::Int(limit) = &rpm else {
            return Ok(Ok(None));
        };
        let key = PyString::new(py, &format!("{prefix}:rpm:{minute}"));
        let increment = |by: i64| -> PyResult<Bound<'py, PyAny>> {
            // The keyword arguments LiteLLM's wrappers pass on (for its own method, when this
            // operation is handed to it).
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "ttl"), &ttl)?;
            if is_async {
                kwargs.set_item(intern!(py, "parent_otel_span"), parent_otel_span)?;
            }
            memory.increment(&key, by, &ttl, &kwargs)
        };
        let counted = match increment(1) {
            Ok(v) => v,
            Err(e) => {
                // Async: the pipeline wrapper swallows it (no count, admitted); sync: the
                // wrapper re-raises into the check's own `except Exception` (admitted).
                swallowed(e)?;
                return Ok(Ok(None));
            }
        };
        // Async compares `int(count)`; sync the count as it is.
        let current = if is_async {
            match py.get_type::<PyInt>().call1((&counted,)) {
                Ok(v) => v,
                Err(e) => {
                    swallowed(e)?;
                    return Ok(Ok(None));
                }
            }
        } else {
            counted
        };
        let over = match current.gt(limit) {
            Ok(over) => over,
            Err(e) => {
                swallowed(e)?;
                return Ok(Ok(None));
            }
        };
        if !over {
            return Ok(Ok(None));
        }
        // The refund: swallowed by the async wrapper; in the sync check a raising refund
        // lands in its `except Exception`, which admits.
        if let Err(e) = increment(-1) {
            swallowed(e)?;
            if !is_async {
                return Ok(Ok(None));
            }
        }
        Ok(Ok(Some(("rpm", limit.clone(), current))))
    }
}

#[pymethods]
impl ModelRateLimitChecks {
    /// `dual_cache` and `in_memory_cache` are LiteLLM's cache classes (instances of exactly
    /// these are read natively), `utc_clock` the check module's default clock
    /// (`get_utc_datetime`, read without a trip to Python), `routing_args` its `RoutingArgs`
    /// (the counters' TTL), `datetime` the `datetime.datetime` class; `steps` what LiteLLM's
    /// cache module calls. `stats` counts calls and fallbacks.
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        stats: Py<Stats>,
        dual_cache: Py<PyType>,
        in_memory_cache: Py<PyType>,
        utc_clock: Py<PyAny>,
        routing_args: Py<PyAny>,
        datetime: Py<PyType>,
        steps: Py<InMemoryCacheSteps>,
    ) -> Self {
        Self {
            stats,
            dual_cache,
            in_memory_cache,
            utc_clock,
            routing_args,
            datetime,
            steps,
        }
    }

    /// `check.pre_call_check(deployment)` (`is_async=False`) or
    /// `check.async_pre_call_check(deployment, parent_otel_span)`: `None` when LiteLLM must
    /// decide (nothing changed, the fallback counted), else `(kind, limit, usage)` with `kind`
    /// `None` when admitted, or `"tpm"`/`"rpm"` with the limit and usage LiteLLM's
    /// `RateLimitError` reports.
    #[pyo3(signature = (check, deployment, is_async, parent_otel_span=None))]
    fn check<'py>(
        &self,
        check: &Bound<'py, PyAny>,
        deployment: &Bound<'py, PyAny>,
        is_async: bool,
        parent_otel_span: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let py = check.py();
        let none = py.None().into_bound(py);
        let span = parent_otel_span.unwrap_or(&none);
        match self.decide(check, deployment, is_async, span)? {
            Err(why) => {
                self.stats.get().record_fallback(why);
                Ok(None)
            }
            Ok(verdict) => {
                self.stats.get().record_call();
                let out = match verdict {
                    None => PyTuple::new(py, [py.None(), py.None(), py.None()])?,
                    Some((kind, limit, usage)) => {
                        PyTuple::new(py, [PyString::new(py, kind).into_any(), limit, usage])?
                    }
                };
                Ok(Some(out))
            }
        }
    }
}

/// The usage-based-v2 strategy's check (`LowestTPMLoggingHandler_v2.pre_call_check` and
/// `async_pre_call_check`): the deployment's rpm this minute, on a memory-only router cache.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct UsageV2Checks {
    stats: Py<Stats>,
    dual_cache: Py<PyType>,
    in_memory_cache: Py<PyType>,
    utc_clock: Py<PyAny>,
    module: Py<PyAny>,
    steps: Py<InMemoryCacheSteps>,
}

/// Where the v2 check refused: at the local read, or after counting.
type V2Verdict<'py> = Option<(&'static str, Bound<'py, PyAny>, Bound<'py, PyAny>)>;

impl UsageV2Checks {
    fn decide<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        deployment: &Bound<'py, PyAny>,
        is_async: bool,
    ) -> PyResult<Result<V2Verdict<'py>, Handback>> {
        let py = handler.py();
        // Everything before the first cache read changes nothing: hand back on any surprise.
        let planned = (|| -> PyResult<Result<_, Handback>> {
            let cache = handler.getattr(intern!(py, "router_cache"))?;
            if is_async && !handler.getattr(intern!(py, "dual_cache"))?.is(&cache) {
                return Ok(Err("a strategy whose dual_cache is not its router_cache"));
            }
            let memory = match memory_tier(
                &cache,
                self.dual_cache.bind(py),
                self.in_memory_cache.bind(py),
            )? {
                Ok(m) => m,
                Err(why) => return Ok(Err(why)),
            };
            let deployment = match Deployment::read(deployment)? {
                Ok(d) => d,
                Err(why) => return Ok(Err(why)),
            };
            // The rpm limit, or `float("inf")`: an int or a float, compared as Python does.
            let rpm = match deployment.first(intern!(py, "rpm"))? {
                None => PyFloat::new(py, f64::INFINITY).into_any(),
                Some(v) if v.cast_exact::<PyInt>().is_ok() || v.cast_exact::<PyFloat>().is_ok() => {
                    v
                }
                Some(_) => return Ok(Err("an rpm limit that is not an int or a float")),
            };
            let ttl = handler
                .getattr(intern!(py, "routing_args"))?
                .getattr(intern!(py, "ttl"))?;
            let clock = self
                .module
                .bind(py)
                .getattr(intern!(py, "get_utc_datetime"))?;
            let minute = if clock.is(self.utc_clock.bind(py)) {
                utc_minute()
            } else {
                return Ok(Err("a replaced get_utc_datetime"));
            };
            let key = format!("{}:rpm:{minute}", deployment.prefix);
            Ok(Ok((memory, rpm, ttl, PyString::new(py, &key))))
        })();
        let (memory, rpm, ttl, key) = match planned {
            Ok(Ok(p)) => p,
            Ok(Err(why)) => return Ok(Err(why)),
            Err(e) if e.is_instance_of::<PyException>(py) => {
                return Ok(Err("an error reading the strategy or its deployment"));
            }
            Err(e) => return Err(e),
        };
        let memory_ops = Memory::new(memory, self.steps.get());
        let swallowed = |e: PyErr| swallowed(py, e);
        // The local read (its wrapper answers None when it raises).
        let local = match memory_ops.get(&key) {
            Ok(v) => v,
            Err(e) => {
                swallowed(e)?;
                py.None().into_bound(py)
            }
        };
        if !local.is_none() {
            match local.ge(&rpm) {
                Ok(true) => return Ok(Ok(Some(("local", rpm, local)))),
                Ok(false) => {}
                Err(e) => {
                    swallowed(e)?;
                    return Ok(Ok(None));
                }
            }
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "ttl"), &ttl)?;
        let counted = match memory_ops.increment(&key, 1, &ttl, &kwargs) {
            Ok(v) => v,
            Err(e) => {
                // Raised into the check's `except Exception`, which admits.
                swallowed(e)?;
                return Ok(Ok(None));
            }
        };
        if is_async {
            // `_increment_value_in_current_window`: the increment queued for Redis, the key
            // marked for its sync, and a retired strategy's flush scheduled.
            let queued = (|| -> PyResult<()> {
                let op = PyDict::new(py);
                op.set_item(intern!(py, "key"), &key)?;
                op.set_item(intern!(py, "increment_value"), 1)?;
                op.set_item(intern!(py, "ttl"), &ttl)?;
                handler
                    .getattr(intern!(py, "redis_increment_operation_queue"))?
                    .call_method1(intern!(py, "append"), (op,))?;
                let mark = PyDict::new(py);
                mark.set_item(intern!(py, "key"), &key)?;
                handler.call_method(
                    intern!(py, "add_to_in_memory_keys_to_update"),
                    (),
                    Some(&mark),
                )?;
                if handler.getattr(intern!(py, "_retired"))?.is_truthy()? {
                    handler.call_method0(intern!(py, "_schedule_flush_after_retire"))?;
                }
                Ok(())
            })();
            if let Err(e) = queued {
                swallowed(e)?;
                return Ok(Ok(None));
            }
        }
        match counted.gt(&rpm) {
            Ok(true) => Ok(Ok(Some(("counted", rpm, counted)))),
            Ok(false) => Ok(Ok(None)),
            Err(e) => {
                swallowed(e)?;
                Ok(Ok(None))
            }
        }
    }
}

#[pymethods]
impl UsageV2Checks {
    /// `dual_cache`, `in_memory_cache`: LiteLLM's cache classes; `utc_clock`: LiteLLM's
    /// `get_utc_datetime`, which the strategy `module` must still name for the native path;
    /// `steps`: as for [`ModelRateLimitChecks`].
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        stats: Py<Stats>,
        dual_cache: Py<PyType>,
        in_memory_cache: Py<PyType>,
        utc_clock: Py<PyAny>,
        module: Py<PyAny>,
        steps: Py<InMemoryCacheSteps>,
    ) -> Self {
        Self {
            stats,
            dual_cache,
            in_memory_cache,
            utc_clock,
            module,
            steps,
        }
    }

    /// `handler.pre_call_check(deployment)` (`is_async=False`) or `async_pre_call_check`:
    /// `None` when LiteLLM must decide (nothing changed, the fallback counted), else
    /// `(stage, limit, usage)` with `stage` `None` when admitted, `"local"` (refused on the
    /// local read) or `"counted"` (refused after counting).
    fn check<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        deployment: &Bound<'py, PyAny>,
        is_async: bool,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let py = handler.py();
        match self.decide(handler, deployment, is_async)? {
            Err(why) => {
                self.stats.get().record_fallback(why);
                Ok(None)
            }
            Ok(verdict) => {
                self.stats.get().record_call();
                Ok(Some(match verdict {
                    None => PyTuple::new(py, [py.None(), py.None(), py.None()])?,
                    Some((stage, limit, usage)) => {
                        PyTuple::new(py, [PyString::new(py, stage).into_any(), limit, usage])?
                    }
                }))
            }
        }
    }
}
