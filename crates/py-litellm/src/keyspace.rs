//! LiteLLM's v3 limiter keyspace held in Rust, with its `should_rate_limit` decided in one call.
//!
//! On the 1.110 line, LiteLLM's `_PROXY_MaxParallelRequestsHandler_v3` keeps every window start,
//! counter and parallel-slot registry in a handle behind `self.rate_limits`. [`LocalRateLimits`]
//! is a drop-in handle for a limiter without Redis: it stores the same values, with the same
//! types, TTLs and increment rules as LiteLLM's own in-memory handle, so every method of
//! LiteLLM's limiter (reservations, settlements, slot releases) runs unchanged on it. Its
//! [`LocalRateLimits::should_rate_limit`] runs LiteLLM's in-memory `should_rate_limit` on the
//! same entries under one lock, so the fast path and LiteLLM's own code always see one state.
//!
//! Anything the fast path does not reproduce (a non-str descriptor, a limit that is not an
//! int, a stored value LiteLLM would choke on) returns `None` before any entry changes, and
//! the patch layer hands the call to LiteLLM's own method.
//!
//! # Why this is not a `fastllm_ratelimit::Store` behind the crate's `Limiter`
//!
//! The rules are the crate's ([`windowed_counters`], [`judge_counters`],
//! [`sliding_window_step`], [`window_expired`], [`gauge_full`], [`atomic_step`], and the key
//! spelling of [`Keyspace`]); what stays here is the flow of `should_rate_limit` around them.
//! The `Store` steps themselves would fit the keyspace (a per-call view holding the locked
//! [`Keyspace`], `now` and the handler's `window_size`, each step a ready future, a hand-back
//! as the step's error, raised where this flow hands back now). The `Limiter` over them does
//! not fit yet, because its input and output are the crate's own types, and going through
//! them would change answers or add work per check:
//!
//! * **Descriptors.** `Limiter` takes `fastllm_ratelimit::Descriptor`s, whose limits are
//!   `u64` and whose scope is an `Arc<ScopeId>` built per descriptor. LiteLLM takes any `int`
//!   as a limit, `0` and negative ones included (a negative `requests_per_unit` refuses every
//!   request with a negative `limit_remaining`); [`Desc`] keeps them as `i64`. Building
//!   `Descriptor`s per check would also allocate the scope strings and `Arc`s each time,
//!   where [`parse_descriptor`] builds one `String` per descriptor and keeps the rest borrowed.
//! * **The response.** `Limiter` answers a `fastllm_ratelimit::Response` whose statuses name
//!   their descriptor by `Arc<ScopeId>`. LiteLLM's response echoes the descriptor's own
//!   `key` and `value` objects (a `str` subclass stays one, with its identity); [`response`]
//!   copies them from [`Desc`] into dicts built from templates. Turning a `Response` back
//!   into those dicts needs the descriptors' Python objects again, by index, which the
//!   crate's `Status` does not carry.
//! * **The window.** `Store::window_size_secs` is a `u64` fixed per store; here it is the
//!   handler's `window_size` read per call, an `int` LiteLLM lets be `0` or negative (every
//!   window then expires at once; the TTL is clamped at 0). A `u64` cannot carry it.
//!
//! What would let it through: a `Limiter::should_rate_limit` generic over a descriptor trait
//! (`WindowedLimits` plus its scope and parallel limit, with `i64` limits) and over the
//! response it builds (a sink taking `(descriptor index, kind, limit, verdict)` rows, as
//! [`over_limit`] takes them here), and a per-call window of `i64`. Until then, this flow is
//! the one place with LiteLLM's in-memory step order for this handle; the 1.109 line's
//! `v3dual` adapter shares its descriptor parsing, judging and response building.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use smallvec::SmallVec;

use fastllm_ratelimit::CounterKind;
use fastllm_ratelimit::litellm::ScopeKey;
use fastllm_ratelimit::window::{
    CounterRef, CounterState, Verdict, WindowedLimits, atomic_step, clamped_remaining, gauge_full,
    judge_counters, sliding_window_step, window_expired, windowed_counters,
};

use fastllm_ratelimit::litellm::keyspace::{Entry, Keyspace, Value, scope_key};

use crate::awaitable::Ready;
use crate::clock::since_epoch;
use crate::stats::Stats;

/// A Python value as the keyspace stores it (`LocalValue`): `TypeError` for anything else.
fn extract_value(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "a rate-limit value must be an int, a float, a str or a dict of str to float, not bool",
        ));
    }
    if let Ok(i) = value.cast::<PyInt>() {
        return i.extract::<i64>().map(Value::Int).map_err(|_| {
            PyTypeError::new_err(
                "a rate-limit int must fit in 64 bits (LiteLLM's store holds an i64)",
            )
        });
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if let Ok(d) = value.cast::<PyDict>() {
        let mut slots = IndexMap::with_capacity(d.len());
        for (k, v) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err("a parallel-slot registry maps str slot ids to timestamps")
            })?;
            let v = v.extract::<f64>().map_err(|_| {
                PyTypeError::new_err("a parallel-slot registry maps slot ids to float timestamps")
            })?;
            slots.insert(k.to_str()?.to_owned(), v);
        }
        return Ok(Value::Slots(slots));
    }
    Err(PyTypeError::new_err(format!(
        "a rate-limit value must be an int, a float, a str or a dict of str to float, not {}",
        value.get_type().name()?
    )))
}

/// A stored value as Python sees it.
fn value_to_py<'py>(value: &Value, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Slots(slots) => {
            let d = PyDict::new(py);
            for (k, v) in slots {
                d.set_item(k, v)?;
            }
            d.into_any()
        }
    })
}

/// A v3 limiter's `self._get_current_time().timestamp()`, through Python.
pub(crate) fn limiter_timestamp(handler: &Bound<'_, PyAny>) -> PyResult<f64> {
    let py = handler.py();
    handler
        .call_method0(intern!(py, "_get_current_time"))?
        .call_method0(intern!(py, "timestamp"))?
        .extract::<f64>()
}

/// A TTL in seconds as LiteLLM's handle takes it: NaN and infinity are refused; zero or less
/// becomes `Duration::ZERO`, which [`Keyspace::set`] treats as LiteLLM's handle does.
fn ttl_of(ttl: Option<f64>) -> PyResult<Option<Duration>> {
    match ttl {
        None => Ok(None),
        Some(t) if t.is_nan() => Err(PyValueError::new_err("cannot convert float NaN to integer")),
        Some(t) if t.is_infinite() => Err(PyOverflowError::new_err(
            "cannot convert float infinity to integer",
        )),
        Some(t) if t <= 0.0 => Ok(Some(Duration::ZERO)),
        Some(t) => Duration::try_from_secs_f64(t)
            .map(Some)
            .map_err(|_| PyOverflowError::new_err("ttl_seconds is too large")),
    }
}

/// LiteLLM's in-memory rate-limit handle, held in Rust (see the module docs).
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct LocalRateLimits {
    space: Mutex<Keyspace>,
    inner: Py<PyAny>,
    stats: Option<Py<Stats>>,
    system_clock: Option<Py<PyAny>>,
    current_time: Option<Py<PyAny>>,
    slot_ttl: i64,
}

/// The `(scope key, suffix)` of a LiteLLM `RateLimitWindow | RateLimitCounter | RateLimitGauge`.
fn entry_key(entry: &Bound<'_, PyAny>) -> PyResult<(String, ScopeKey)> {
    let py = entry.py();
    let scope = entry.getattr(intern!(py, "scope"))?;
    let key = scope.getattr(intern!(py, "descriptor_key"))?;
    let value = scope.getattr(intern!(py, "descriptor_value"))?;
    let suffix = entry.getattr(intern!(py, "suffix"))?;
    let text = |v: &Bound<'_, PyAny>, what: &str| -> PyResult<String> {
        v.cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("a rate-limit scope's {what} must be str")))?
            .to_str()
            .map(str::to_owned)
    };
    let suffix = text(&suffix, "suffix")?;
    let suffix = ScopeKey::parse(&suffix).ok_or_else(|| {
        PyValueError::new_err(format!("unknown rate-limit entry suffix {suffix:?}"))
    })?;
    Ok((
        scope_key(
            &text(&key, "descriptor_key")?,
            &text(&value, "descriptor_value")?,
        ),
        suffix,
    ))
}

/// One parsed descriptor of a `should_rate_limit` call.
pub(crate) struct Desc {
    pub(crate) scope: String,
    pub(crate) key: Py<PyAny>,
    pub(crate) value: Py<PyAny>,
    /// Its `rate_limit` dict as [`limits_of`] read it: requests, tokens, max parallel requests.
    limits: [Option<i64>; 3],
}

impl Desc {
    /// Its `max_parallel_requests`, if it sets one.
    pub(crate) fn parallel(&self) -> Option<i64> {
        self.limits[2]
    }
}

impl WindowedLimits for Desc {
    fn limit_of(&self, kind: CounterKind) -> Option<i64> {
        match kind {
            CounterKind::Requests => self.limits[0],
            CounterKind::Tokens => self.limits[1],
        }
    }

    fn same_scope(&self, other: &Self) -> bool {
        self.scope == other.scope
    }
}

/// `int(x)` for a limit: exact ints only; anything else goes to LiteLLM.
fn limit_value(v: &Bound<'_, PyAny>) -> Result<Option<i64>, ()> {
    if v.is_none() {
        return Ok(None);
    }
    if v.is_instance_of::<PyBool>() {
        return Err(());
    }
    v.cast::<PyInt>()
        .map_err(|_| ())?
        .extract::<i64>()
        .map(Some)
        .map_err(|_| ())
}

/// The limits of a descriptor's `rate_limit` dict, read in one pass over its items (a dict
/// with a key that is not an exact `str` goes to LiteLLM): requests, tokens (unless
/// `skip_tpm`), max parallel requests.
fn limits_of(rl: &Bound<'_, PyDict>, skip_tpm: bool) -> Result<[Option<i64>; 3], ()> {
    let py = rl.py();
    let fields = [
        intern!(py, "requests_per_unit"),
        intern!(py, "tokens_per_unit"),
        intern!(py, "max_parallel_requests"),
        intern!(py, "window_size"),
    ];
    let mut limits = [None; 3];
    let mut window = None;
    for (k, v) in rl.iter() {
        let k = k.cast_into_exact::<PyString>().map_err(|_| ())?;
        // Interned names match by identity; an equal string built elsewhere, by value.
        let at = match fields.iter().position(|f| f.is(&k)) {
            Some(at) => at,
            None => {
                let text = k.to_str().map_err(|_| ())?;
                match fields
                    .iter()
                    .position(|f| f.to_str().is_ok_and(|f| f == text))
                {
                    Some(at) => at,
                    None => continue,
                }
            }
        };
        match at {
            3 => window = Some(v),
            1 if skip_tpm => {}
            at => limits[at] = limit_value(&v)?,
        }
    }
    if limits[0].is_some() || limits[1].is_some() {
        // `int(window_size)` must not raise: an int, or a falsy value LiteLLM replaces.
        match window {
            None => {}
            Some(w) if w.is_none() => {}
            Some(w) if w.is_instance_of::<PyInt>() && !w.is_instance_of::<PyBool>() => {}
            Some(_) => return Err(()),
        }
    }
    Ok(limits)
}

/// A descriptor dict of a `should_rate_limit` call, its scope named by `scope(key, value)`
/// (the keyspace's own key here; LiteLLM's `{key:value}` tag on the 1.109 line, where two
/// pairs that render alike share one scope). `Err` for a shape LiteLLM must handle.
pub(crate) fn parse_descriptor(
    d: &Bound<'_, PyAny>,
    skip_tpm: bool,
    scope: fn(&str, &str) -> String,
) -> Result<Desc, ()> {
    let py = d.py();
    // Exact dicts only: a subclass could answer LiteLLM's `.get` differently.
    let d = d.cast_exact::<PyDict>().map_err(|_| ())?;
    let key = d.get_item(intern!(py, "key")).map_err(|_| ())?.ok_or(())?;
    let value = d
        .get_item(intern!(py, "value"))
        .map_err(|_| ())?
        .ok_or(())?;
    let k = key
        .cast::<PyString>()
        .map_err(|_| ())?
        .to_str()
        .map_err(|_| ())?;
    let v = value
        .cast::<PyString>()
        .map_err(|_| ())?
        .to_str()
        .map_err(|_| ())?;
    let scope = scope(k, v);
    let mut limits = [None; 3];
    if let Some(rl) = d.get_item(intern!(py, "rate_limit")).map_err(|_| ())? {
        // `descriptor.get("rate_limit") or {}`: only a dict (empty or not) or None is followed.
        if !rl.is_none() {
            let rl = rl.cast_exact::<PyDict>().map_err(|_| ())?;
            limits = limits_of(rl, skip_tpm)?;
        }
    }
    Ok(Desc {
        scope,
        key: key.unbind(),
        value: value.unbind(),
        limits,
    })
}

/// One status row of LiteLLM's `RateLimitResponse`.
pub(crate) struct Status {
    /// `code` (over or not) and `limit_remaining`.
    pub(crate) verdict: Verdict,
    pub(crate) limit: i64,
    pub(crate) kind: ScopeKey,
    pub(crate) desc: usize,
    pub(crate) with_value: bool,
}

impl Status {
    /// The row of descriptor `desc`'s parallel-request gauge: `in_flight` live slots under
    /// `limit`, `over` as the caller judged it; what is left is clamped at 0.
    pub(crate) fn gauge(desc: usize, limit: i64, in_flight: i64, over: bool) -> Self {
        Self {
            verdict: Verdict {
                over,
                remaining: clamped_remaining(limit, in_flight),
            },
            limit,
            kind: ScopeKey::Gauge,
            desc,
            with_value: false,
        }
    }
}

fn kind_name(py: Python<'_>, kind: ScopeKey) -> &Bound<'_, PyString> {
    match kind {
        ScopeKey::Requests => intern!(py, "requests"),
        ScopeKey::Tokens => intern!(py, "tokens"),
        ScopeKey::Gauge => intern!(py, "max_parallel_requests"),
        ScopeKey::Window => intern!(py, "window"),
    }
}

fn code(py: Python<'_>, over: bool) -> &Bound<'_, PyString> {
    if over {
        intern!(py, "OVER_LIMIT")
    } else {
        intern!(py, "OK")
    }
}

/// `is_cache_list_over_limit` ([`judge_counters`]) on the call's counters, its status rows
/// in `statuses`: whether a counter is over.
pub(crate) fn over_limit(
    descs: &[Desc],
    counters: &[CounterRef],
    values: &[Option<i64>],
    read_only: bool,
    statuses: &mut SmallVec<[Status; 8]>,
) -> bool {
    statuses.clear();
    judge_counters(
        descs,
        counters.iter().copied(),
        values.iter().copied(),
        read_only,
        false,
        |c, limit, verdict| {
            statuses.push(Status {
                verdict,
                limit,
                kind: c.kind.into(),
                desc: c.metadata,
                with_value: true,
            });
        },
    )
}

/// A status row to copy, in LiteLLM's key order, with its constant fields (`code`,
/// `rate_limit_type`) filled and the rest `None`: a copy takes the template's key table
/// whole, where six inserts into a new dict would grow it once.
fn status_template(
    py: Python<'_>,
    over: bool,
    kind: ScopeKey,
    with_value: bool,
) -> PyResult<&Bound<'_, PyDict>> {
    const KINDS: [ScopeKey; 4] = [
        ScopeKey::Window,
        ScopeKey::Requests,
        ScopeKey::Tokens,
        ScopeKey::Gauge,
    ];
    static TEMPLATES: PyOnceLock<Vec<Py<PyDict>>> = PyOnceLock::new();
    let index = |over: bool, kind: ScopeKey, with_value: bool| {
        usize::from(over) * 8 + (kind as usize) * 2 + usize::from(with_value)
    };
    let templates = TEMPLATES.get_or_try_init(py, || -> PyResult<_> {
        let mut all: Vec<Option<Py<PyDict>>> = (0..16).map(|_| None).collect();
        for over in [false, true] {
            for kind in KINDS {
                for with_value in [false, true] {
                    let d = PyDict::new(py);
                    d.set_item(intern!(py, "code"), code(py, over))?;
                    d.set_item(intern!(py, "current_limit"), py.None())?;
                    d.set_item(intern!(py, "limit_remaining"), py.None())?;
                    d.set_item(intern!(py, "rate_limit_type"), kind_name(py, kind))?;
                    d.set_item(intern!(py, "descriptor_key"), py.None())?;
                    if with_value {
                        d.set_item(intern!(py, "descriptor_value"), py.None())?;
                    }
                    all[index(over, kind, with_value)] = Some(d.unbind());
                }
            }
        }
        Ok(all.into_iter().flatten().collect())
    })?;
    Ok(templates[index(over, kind, with_value)].bind(py))
}

pub(crate) fn response<'py>(
    py: Python<'py>,
    descs: &[Desc],
    over: bool,
    statuses: &[Status],
) -> PyResult<Bound<'py, PyDict>> {
    static OUTER: PyOnceLock<[Py<PyDict>; 2]> = PyOnceLock::new();
    let outer = OUTER.get_or_try_init(py, || -> PyResult<_> {
        let template = |over: bool| -> PyResult<Py<PyDict>> {
            let d = PyDict::new(py);
            d.set_item(intern!(py, "overall_code"), code(py, over))?;
            d.set_item(intern!(py, "statuses"), py.None())?;
            Ok(d.unbind())
        };
        Ok([template(false)?, template(true)?])
    })?;
    let out = outer[usize::from(over)].bind(py).copy()?;
    let mut rows = SmallVec::<[Bound<'py, PyDict>; 8]>::new();
    for s in statuses {
        let d = status_template(py, s.verdict.over, s.kind, s.with_value)?.copy()?;
        d.set_item(intern!(py, "current_limit"), s.limit)?;
        d.set_item(intern!(py, "limit_remaining"), s.verdict.remaining)?;
        d.set_item(intern!(py, "descriptor_key"), descs[s.desc].key.bind(py))?;
        if s.with_value {
            d.set_item(
                intern!(py, "descriptor_value"),
                descs[s.desc].value.bind(py),
            )?;
        }
        rows.push(d);
    }
    out.set_item(intern!(py, "statuses"), PyList::new(py, rows)?)?;
    Ok(out)
}

impl LocalRateLimits {
    fn lock(&self) -> MutexGuard<'_, Keyspace> {
        // Every write replaces one entry whole, so a panic elsewhere cannot leave it torn.
        self.space.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A stored counter as `int()` reads it (`None`: absent); `Err`, with the fallback
    /// counted, for a value `int()` does not take.
    fn counter_int(&self, value: Option<&Value>) -> Result<Option<i64>, ()> {
        match value {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .ok_or_else(|| self.count(Some("a counter int() does not take"))),
        }
    }

    fn count(&self, fallback: Option<&str>) {
        if let Some(stats) = &self.stats {
            match fallback {
                None => stats.get().record_call(),
                Some(reason) => stats.get().record_fallback(reason),
            }
        }
    }

    /// LiteLLM's in-memory `should_rate_limit` on this handle's entries, under one lock.
    ///
    /// `now` is the limiter's `time_provider()` timestamp (`None` reads the system clock, for
    /// a limiter on `datetime.now`), `window_size` its `self.window_size`. Returns the
    /// `RateLimitResponse` dict, or `None` (with nothing changed) for an input this path does
    /// not reproduce.
    #[allow(clippy::too_many_arguments)]
    fn should_rate_limit<'py>(
        &self,
        py: Python<'py>,
        descriptors: &Bound<'py, PyAny>,
        now: Option<f64>,
        window_size: i64,
        read_only: bool,
        skip_tpm_check: bool,
        parallel_slot_id: Option<&str>,
        skip_parallel_check: bool,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let slot_ttl = self.slot_ttl;
        let Ok(list) = descriptors.cast::<PyList>() else {
            self.count(Some("descriptors is not a list"));
            return Ok(None);
        };
        let mut descs: SmallVec<[Desc; 4]> = SmallVec::new();
        for d in list.iter() {
            match parse_descriptor(&d, skip_tpm_check, scope_key) {
                Ok(d) => descs.push(d),
                Err(()) => {
                    self.count(Some("a descriptor this path does not reproduce"));
                    return Ok(None);
                }
            }
        }
        // `None`: the limiter's clock is `datetime.now`, read here without a trip to Python.
        let now = now.unwrap_or_else(|| since_epoch().as_secs_f64());
        if !now.is_finite() || now.abs() >= 9.0e18 {
            self.count(Some("a time outside the i64 range"));
            return Ok(None);
        }
        let now_int = now.trunc() as i64;
        // Token limits were left out at parsing under `skip_tpm_check`.
        let counters: SmallVec<[CounterRef; 8]> = windowed_counters(&descs, false).collect();
        let gauges: SmallVec<[usize; 4]> = descs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.parallel().map(|_| i))
            .collect();
        let clock = Instant::now();
        let mut space = self.lock();
        let space = &mut *space;

        let mut statuses: SmallVec<[Status; 8]> = SmallVec::new();
        if !counters.is_empty() {
            // The local pre-check: every window and counter must be a value `int()` takes.
            let mut counts: SmallVec<[Option<i64>; 8]> = SmallVec::new();
            for c in &counters {
                let mut sc = space.scope(descs[c.descriptor].scope.as_str());
                let window = sc
                    .as_deref_mut()
                    .and_then(|sc| sc.get(ScopeKey::Window, clock));
                if matches!(window, Some(Value::Slots(_))) {
                    self.count(Some("a window entry holds a slot registry"));
                    return Ok(None);
                }
                if window.is_some_and(|w| w.as_int().is_none()) {
                    self.count(Some("a window start int() does not take"));
                    return Ok(None);
                }
                let Ok(value) = self.counter_int(sc.and_then(|sc| sc.get(c.kind.into(), clock)))
                else {
                    return Ok(None);
                };
                counts.push(value);
            }
            if over_limit(&descs, &counters, &counts, read_only, &mut statuses) {
                self.count(None);
                return response(py, &descs, true, &statuses).map(Some);
            }
            let cache_values: SmallVec<[Option<i64>; 8]> = if read_only {
                counts
            } else {
                // The in-memory sliding window, one counter after another.
                let ttl = Some(Duration::from_secs(window_size.max(0) as u64));
                let mut out = SmallVec::new();
                for c in &counters {
                    let sc = space.scope_for_write(descs[c.descriptor].scope.as_str(), clock);
                    let kind = ScopeKey::from(c.kind);
                    // Every window start passed `int()` above, and this loop writes only ints.
                    let start = sc.get(ScopeKey::Window, clock).and_then(Value::as_int);
                    let count = if window_expired(start, now_int, window_size) {
                        None
                    } else {
                        sc.get(kind, clock).and_then(Value::as_int)
                    };
                    let (reset, start, next) =
                        sliding_window_step(start, count, now_int, window_size);
                    if reset {
                        sc.set(ScopeKey::Requests, Value::Int(0), ttl, clock);
                        sc.set(ScopeKey::Tokens, Value::Int(0), ttl, clock);
                        sc.set(ScopeKey::Window, Value::Text(start.to_string()), ttl, clock);
                    }
                    sc.set(kind, Value::Int(next), ttl, clock);
                    out.push(Some(next));
                }
                out
            };
            if over_limit(&descs, &counters, &cache_values, read_only, &mut statuses) {
                self.count(None);
                return response(py, &descs, true, &statuses).map(Some);
            }
        }
        if gauges.is_empty() || skip_parallel_check {
            self.count(None);
            return response(py, &descs, false, &statuses).map(Some);
        }

        let cutoff = now - slot_ttl as f64;
        let gauge_status = |g: usize, n: i64, over: bool| {
            Status::gauge(g, descs[g].parallel().unwrap_or(0), n, over)
        };
        // Every gauge value is read before any is written, as LiteLLM reads them in one batch:
        // (in-flight count, whether the value is a slot registry or absent).
        let mut current: SmallVec<[(i64, bool); 4]> = SmallVec::new();
        for &g in &gauges {
            let value = space.get(&descs[g].scope, ScopeKey::Gauge, clock);
            let Some(n) = Value::in_flight(value, cutoff) else {
                self.count(Some("a gauge int() does not take"));
                return Ok(None);
            };
            current.push((n, matches!(value, None | Some(Value::Slots(_)))));
        }
        if read_only {
            let mut over = false;
            for (&g, &(n, _)) in gauges.iter().zip(&current) {
                let o = gauge_full(n, descs[g].parallel().unwrap_or(0));
                over |= o;
                statuses.push(gauge_status(g, n, o));
            }
            self.count(None);
            return response(py, &descs, over, &statuses).map(Some);
        }
        // The local pre-check, then `_acquire_parallel_slots_in_memory`'s all-or-nothing check
        // (`in_flight + 1 > limit` over the same unexpired slots, so the same condition).
        for (&g, &(n, _)) in gauges.iter().zip(&current) {
            if gauge_full(n, descs[g].parallel().unwrap_or(0)) {
                // The windowed statuses, then the one gauge that refused.
                statuses.push(gauge_status(g, n, true));
                self.count(None);
                return response(py, &descs, true, &statuses).map(Some);
            }
        }
        let slot_id = match parallel_slot_id {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => fresh_slot_id(),
        };
        let ttl = Duration::from_secs(slot_ttl.max(0) as u64);
        for (&g, &(n, registry)) in gauges.iter().zip(&current) {
            let scope = descs[g].scope.as_str();
            if !registry {
                // A count mirrored from Redis: carried forward as a count.
                space.set(scope, ScopeKey::Gauge, Value::Int(n + 1), Some(ttl), clock);
            } else {
                // The registry without its expired slots, plus this one: pruned in place.
                let entry = space.live_mut(scope, ScopeKey::Gauge, clock);
                match entry {
                    Some(Entry {
                        value: Value::Slots(slots),
                        expires,
                    }) => {
                        slots.retain(|_, ts| *ts >= cutoff);
                        slots.insert(slot_id.clone(), now);
                        *expires = (!ttl.is_zero()).then(|| clock + ttl).or(*expires);
                    }
                    _ => {
                        let mut slots = IndexMap::with_capacity(1);
                        slots.insert(slot_id.clone(), now);
                        space.set(
                            scope,
                            ScopeKey::Gauge,
                            Value::Slots(slots),
                            Some(ttl),
                            clock,
                        );
                    }
                }
            }
            statuses.push(gauge_status(g, n + 1, false));
        }
        self.count(None);
        response(py, &descs, false, &statuses).map(Some)
    }
}

impl LocalRateLimits {
    /// The limiter's `should_rate_limit(...)` for `handler` (LiteLLM's v3 limiter): the
    /// `RateLimitResponse` dict, or `None` (nothing changed) for input LiteLLM must decide. Reads
    /// the handler's clock (`datetime.now` without a trip to Python when that is its clock)
    /// and its `window_size`.
    fn check<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        read_only: bool,
        skip_tpm_check: bool,
        parallel_slot_id: Option<&str>,
        skip_parallel_check: bool,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let py = handler.py();
        let system = match (&self.system_clock, &self.current_time) {
            (Some(clock), Some(current_time)) => {
                handler.getattr(intern!(py, "_time_provider"))?.is(clock)
                    && handler
                        .get_type()
                        .getattr(intern!(py, "_get_current_time"))?
                        .is(current_time)
            }
            _ => false,
        };
        let now = if system {
            None
        } else {
            Some(limiter_timestamp(handler)?)
        };
        let window_size: i64 = handler.getattr(intern!(py, "window_size"))?.extract()?;
        self.should_rate_limit(
            py,
            descriptors,
            now,
            window_size,
            read_only,
            skip_tpm_check,
            parallel_slot_id,
            skip_parallel_check,
        )
    }
}

#[pymethods]
impl LocalRateLimits {
    /// A handle in front of LiteLLM's own memory-only handle `inner`, which answers every
    /// method this one does not define (the Redis scripts, `slot_groups`). `stats` counts the
    /// calls and fallbacks of [`LocalRateLimits::should_rate_limit`]. `system_clock` is the
    /// limiter's `datetime.now` time provider and `current_time` its class's
    /// `_get_current_time`, kept so [`LocalRateLimits::check`] can tell they are still the
    /// limiter's clock; `slot_ttl` is LiteLLM's `PARALLEL_REQUEST_SLOT_TTL_SECONDS`.
    #[new]
    #[pyo3(signature = (inner, *, stats=None, system_clock=None, current_time=None, slot_ttl=3600))]
    fn py_new(
        inner: Py<PyAny>,
        stats: Option<Py<Stats>>,
        system_clock: Option<Py<PyAny>>,
        current_time: Option<Py<PyAny>>,
        slot_ttl: i64,
    ) -> Self {
        Self {
            space: Mutex::new(Keyspace::default()),
            inner,
            stats,
            system_clock,
            current_time,
            slot_ttl,
        }
    }

    /// The `datetime.now` provider given at construction, or `None`.
    #[getter]
    fn system_clock(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.system_clock.as_ref().map(|c| c.clone_ref(py))
    }

    /// Always `False`: this handle is memory-only.
    #[getter]
    fn has_redis(&self) -> bool {
        false
    }

    /// The value of a window, counter or gauge entry, or `None` (absent or expired).
    fn get_local<'py>(
        &self,
        py: Python<'py>,
        entry: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (scope, suffix) = entry_key(entry)?;
        let value = self.lock().get(&scope, suffix, Instant::now()).cloned();
        value.map(|v| value_to_py(&v, py)).transpose()
    }

    /// Stores `value` (int, float, str, or dict of str to float). A TTL (seconds) replaces the
    /// expiry; `None` keeps the entry's current one.
    #[pyo3(signature = (entry, value, ttl_seconds))]
    fn set_local(
        &self,
        entry: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl_seconds: Option<f64>,
    ) -> PyResult<()> {
        let (scope, suffix) = entry_key(entry)?;
        let value = extract_value(value)?;
        let ttl = ttl_of(ttl_seconds)?;
        self.lock().set(&scope, suffix, value, ttl, Instant::now());
        Ok(())
    }

    /// `await handle.increment(CounterIncrement)`: the new value, or `None` when the entry
    /// holds text or a slot registry (left unchanged). An entry keeps its expiry; a new one
    /// takes the increment's TTL.
    fn increment(&self, py: Python<'_>, increment: &Bound<'_, PyAny>) -> PyResult<Ready> {
        let value = self.apply_increment(increment)?;
        let value = match value {
            Some(v) => value_to_py(&v, py)?.unbind(),
            None => py.None(),
        };
        Ok(Ready::new(value))
    }

    /// `await handle.increment_many([CounterIncrement, ...])`, applied in order.
    fn increment_many(&self, py: Python<'_>, increments: &Bound<'_, PyAny>) -> PyResult<Ready> {
        for inc in increments.try_iter()? {
            self.apply_increment(&inc?)?;
        }
        Ok(Ready::new(PyTuple::empty(py).into_any().unbind()))
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        self.inner.getattr(py, name)
    }

    /// LiteLLM's `_atomic_check_and_increment_in_memory(per_counter_meta)` on this handle's
    /// entries, under one lock: all counters admit their increment or none changes. `meta` is
    /// LiteLLM's list of `AtomicCounterMeta` dicts, `now_int` its `int(now)`. Returns the
    /// `RateLimitResponse` dict (with `reservation_windows` when admitted), or `None` (with
    /// nothing changed) for an input this path does not reproduce.
    fn atomic_check_and_increment<'py>(
        &self,
        py: Python<'py>,
        meta: &Bound<'py, PyAny>,
        now_int: i64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Ok(list) = meta.cast::<PyList>() else {
            self.count(Some("per_counter_meta is not a list"));
            return Ok(None);
        };
        let int_of = |d: &Bound<'py, PyDict>, k: &Bound<'py, PyString>| -> Option<i64> {
            exact_int(&d.get_item(k).ok()??)
        };
        let mut items = Vec::with_capacity(list.len());
        for m in list.iter() {
            let parsed = (|| -> Option<AtomicItem<'py>> {
                let d = m.cast::<PyDict>().ok()?;
                let counter = d.get_item(intern!(py, "counter")).ok()??;
                let (scope, kind) = entry_key(&counter).ok()?;
                if !matches!(kind, ScopeKey::Requests | ScopeKey::Tokens) {
                    return None;
                }
                Some(AtomicItem {
                    window_size: int_of(d, intern!(py, "window_size"))?,
                    increment: int_of(d, intern!(py, "increment"))?,
                    limit: int_of(d, intern!(py, "current_limit"))?,
                    ttl: int_of(d, intern!(py, "ttl"))?,
                    rate_limit_type: d.get_item(intern!(py, "rate_limit_type")).ok()??,
                    descriptor_key: d.get_item(intern!(py, "descriptor_key")).ok()??,
                    descriptor_value: d.get_item(intern!(py, "descriptor_value")).ok()??,
                    counter: CounterObject::Given(counter),
                    scope,
                    kind,
                })
            })();
            match parsed {
                Some(item) => items.push(item),
                None => {
                    self.count(Some("a counter meta this path does not reproduce"));
                    return Ok(None);
                }
            }
        }
        self.atomic_apply(py, &items, now_int)
    }

    /// LiteLLM's in-memory `atomic_check_and_increment_by_n(descriptors, increments)`: the
    /// per-counter payload (`_build_descriptor_atomic_payload`) built here, then the same
    /// all-or-nothing check and increment. `window_size` is the limiter's, `scope_type`
    /// LiteLLM's `RateLimitScope` (for the counters in `reservation_windows`). `None` (with
    /// nothing changed) for an input this path does not reproduce.
    fn atomic_check_and_increment_by_n<'py>(
        &self,
        py: Python<'py>,
        descriptors: &Bound<'py, PyAny>,
        increments: &Bound<'py, PyAny>,
        window_size: i64,
        now_int: i64,
        scope_type: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (Ok(descriptors), Ok(increments)) =
            (descriptors.cast::<PyList>(), increments.cast::<PyList>())
        else {
            self.count(Some("descriptors or increments is not a list"));
            return Ok(None);
        };
        if descriptors.len() != increments.len() {
            self.count(Some("descriptors and increments differ in length"));
            return Ok(None);
        }
        let mut items = Vec::with_capacity(descriptors.len() * 2);
        for (d, inc) in descriptors.iter().zip(increments.iter()) {
            if !atomic_payload(py, &d, &inc, window_size, scope_type, &mut items) {
                self.count(Some(
                    "a descriptor or increment this path does not reproduce",
                ));
                return Ok(None);
            }
        }
        if items.is_empty() {
            let out = PyDict::new(py);
            out.set_item(intern!(py, "overall_code"), code(py, false))?;
            out.set_item(intern!(py, "statuses"), PyList::empty(py))?;
            self.count(None);
            return Ok(Some(out));
        }
        self.atomic_apply(py, &items, now_int)
    }

    /// Entries held, expired ones included until they are swept. (A method, not `__len__`:
    /// an empty handle must stay truthy, as LiteLLM's own handle is.)
    fn entry_count(&self) -> usize {
        self.lock().entry_count()
    }
}

/// Where a reservation window's counter object comes from: LiteLLM's payload, or made here
/// from `RateLimitScope(key, value).counter(kind)` once the request is admitted.
enum CounterObject<'py> {
    Given(Bound<'py, PyAny>),
    Make(Bound<'py, PyAny>),
}

/// One counter of an atomic check-and-increment (LiteLLM's `AtomicCounterMeta`).
struct AtomicItem<'py> {
    counter: CounterObject<'py>,
    scope: String,
    kind: ScopeKey,
    window_size: i64,
    increment: i64,
    limit: i64,
    ttl: i64,
    rate_limit_type: Bound<'py, PyAny>,
    descriptor_key: Bound<'py, PyAny>,
    descriptor_value: Bound<'py, PyAny>,
}

/// The patched `should_rate_limit` of LiteLLM's v3 limiter, decided natively: one call
/// finds the limiter's handle, reads its clock and window size, and decides on its keyspace.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct V3Checks {
    stats: Py<Stats>,
}

#[pymethods]
impl V3Checks {
    /// `stats` counts the limiters that are not on a [`LocalRateLimits`] keyspace and the
    /// errors of this path (the handle counts its own calls and fallbacks).
    #[new]
    fn py_new(stats: Py<Stats>) -> Self {
        Self { stats }
    }

    /// `handler.should_rate_limit(...)`'s response for LiteLLM's v3 limiter `handler`, or
    /// `None` (nothing changed, the fallback counted) when LiteLLM must decide: a limiter whose
    /// handle is not a [`LocalRateLimits`], input this path does not reproduce, or an error.
    #[pyo3(signature = (handler, descriptors, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check))]
    fn should_rate_limit<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        read_only: &Bound<'py, PyAny>,
        skip_tpm_check: &Bound<'py, PyAny>,
        parallel_slot_id: &Bound<'py, PyAny>,
        skip_parallel_check: &Bound<'py, PyAny>,
    ) -> Option<Bound<'py, PyDict>> {
        let py = handler.py();
        let handle = handler
            .getattr(intern!(py, "rate_limits"))
            .and_then(|store| store.getattr(intern!(py, "_handle")));
        let Some(handle) = handle
            .ok()
            .and_then(|h| h.cast_into::<LocalRateLimits>().ok())
        else {
            self.stats.get().record_fallback(
                "a limiter with Redis, an injected store, or built before patch()",
            );
            return None;
        };
        // Flags other than `True`/`False`, and a slot id other than `None`/`str`, go to LiteLLM.
        let flag = |v: &Bound<'py, PyAny>| -> PyResult<bool> { Ok(v.cast::<PyBool>()?.is_true()) };
        let decided = (|| {
            let slot_id = if parallel_slot_id.is_none() {
                None
            } else {
                Some(parallel_slot_id.cast::<PyString>()?.to_str()?)
            };
            handle.get().check(
                handler,
                descriptors,
                flag(read_only)?,
                flag(skip_tpm_check)?,
                slot_id,
                flag(skip_parallel_check)?,
            )
        })();
        decided.unwrap_or_else(|error| {
            let name = error
                .get_type(py)
                .name()
                .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
            self.stats
                .get()
                .record_fallback(&format!("{name}: {}", error.value(py)));
            None
        })
    }
}

/// An `int` (not a `bool`) that fits in 64 bits.
fn exact_int(v: &Bound<'_, PyAny>) -> Option<i64> {
    if v.is_instance_of::<PyBool>() {
        return None;
    }
    v.cast::<PyInt>().ok()?.extract::<i64>().ok()
}

/// LiteLLM's `_build_descriptor_atomic_payload` for one descriptor: its counters, in
/// `("requests", "tokens")` order, pushed to `items`. `false` for a shape this path does not
/// reproduce (nothing is pushed then that matters: the caller gives up).
fn atomic_payload<'py>(
    py: Python<'py>,
    descriptor: &Bound<'py, PyAny>,
    increment: &Bound<'py, PyAny>,
    default_window: i64,
    scope_type: &Bound<'py, PyAny>,
    items: &mut Vec<AtomicItem<'py>>,
) -> bool {
    (|| -> Option<()> {
        let d = descriptor.cast::<PyDict>().ok()?;
        let inc = increment.cast::<PyDict>().ok()?;
        let key = d.get_item(intern!(py, "key")).ok()??;
        let value = d.get_item(intern!(py, "value")).ok()??;
        let k = key.cast::<PyString>().ok()?.to_str().ok()?;
        let v = value.cast::<PyString>().ok()?.to_str().ok()?;
        let rl = match d.get_item(intern!(py, "rate_limit")).ok()? {
            None => None,
            Some(r) if r.is_none() => None,
            Some(r) => Some(r.cast::<PyDict>().ok()?.clone()),
        };
        // `rate_limit.get("window_size") or self.window_size`, then `int(...)`.
        let window = match rl.as_ref().map(|r| r.get_item(intern!(py, "window_size"))) {
            None | Some(Ok(None)) => default_window,
            Some(Ok(Some(w))) if w.is_none() => default_window,
            Some(Ok(Some(w))) => match exact_int(&w)? {
                0 => default_window,
                w => w,
            },
            Some(Err(_)) => return None,
        };
        for (kind, limit_field, name) in [
            (
                ScopeKey::Requests,
                intern!(py, "requests_per_unit"),
                intern!(py, "requests"),
            ),
            (
                ScopeKey::Tokens,
                intern!(py, "tokens_per_unit"),
                intern!(py, "tokens"),
            ),
        ] {
            let limit = match rl.as_ref().map(|r| r.get_item(limit_field)) {
                None | Some(Ok(None)) => None,
                Some(Ok(Some(l))) if l.is_none() => None,
                Some(Ok(Some(l))) => Some(exact_int(&l)?),
                Some(Err(_)) => return None,
            };
            // `int(increment_amounts.get(kind, 0) or 0)`.
            let amount = match inc.get_item(name).ok()? {
                None => 0,
                Some(a) if a.is_none() => 0,
                Some(a) => exact_int(&a)?,
            };
            let Some(limit) = limit else { continue };
            if amount < 0 {
                continue;
            }
            items.push(AtomicItem {
                counter: CounterObject::Make(scope_type.clone()),
                scope: scope_key(k, v),
                kind,
                window_size: window,
                increment: amount,
                limit,
                ttl: window,
                rate_limit_type: name.clone().into_any(),
                descriptor_key: key.clone(),
                descriptor_value: value.clone(),
            });
        }
        Some(())
    })()
    .is_some()
}

impl LocalRateLimits {
    /// LiteLLM's `_atomic_check_and_increment_in_memory` over prepared counters.
    fn atomic_apply<'py>(
        &self,
        py: Python<'py>,
        items: &[AtomicItem<'py>],
        now_int: i64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let status =
            |item: &AtomicItem<'py>, over: bool, count: i64| -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(py);
                d.set_item(intern!(py, "code"), code(py, over))?;
                d.set_item(intern!(py, "current_limit"), item.limit)?;
                d.set_item(
                    intern!(py, "limit_remaining"),
                    clamped_remaining(item.limit, count),
                )?;
                d.set_item(intern!(py, "rate_limit_type"), &item.rate_limit_type)?;
                d.set_item(intern!(py, "descriptor_key"), &item.descriptor_key)?;
                d.set_item(intern!(py, "descriptor_value"), &item.descriptor_value)?;
                Ok(d)
            };
        let clock = Instant::now();
        let mut space = self.lock();
        let space = &mut *space;
        // Pass 1: read and validate; nothing changes before every counter admits.
        let mut states = Vec::with_capacity(items.len());
        for item in items {
            let start = match space.get(&item.scope, ScopeKey::Window, clock) {
                None => None,
                Some(Value::Slots(_)) => {
                    self.count(Some("a window entry holds a slot registry"));
                    return Ok(None);
                }
                Some(w) => match w.as_int() {
                    Some(w) => Some(w),
                    None => {
                        self.count(Some("a window start int() does not take"));
                        return Ok(None);
                    }
                },
            };
            // The counter is read only while its window is open.
            let count = if window_expired(start, now_int, item.window_size) {
                None
            } else {
                let Ok(count) = self.counter_int(space.get(&item.scope, item.kind, clock)) else {
                    return Ok(None);
                };
                count
            };
            let state = CounterState {
                window_start: start,
                count,
            };
            match atomic_step(state, now_int, item.window_size, item.increment, item.limit) {
                Ok(write) => states.push(write),
                Err(current) => {
                    let out = PyDict::new(py);
                    out.set_item(intern!(py, "overall_code"), code(py, true))?;
                    out.set_item(
                        intern!(py, "statuses"),
                        PyList::new(py, [status(item, true, current)?])?,
                    )?;
                    self.count(None);
                    return Ok(Some(out));
                }
            }
        }
        // Everything that can fail in Python happens before the first write.
        let mut counters = Vec::with_capacity(items.len());
        for item in items {
            counters.push(match &item.counter {
                CounterObject::Given(c) => c.clone(),
                CounterObject::Make(scope_type) => {
                    let (key, value) = (&item.descriptor_key, &item.descriptor_value);
                    scope_type
                        .call1((key, value))?
                        .call_method1(intern!(py, "counter"), (&item.rate_limit_type,))?
                }
            });
        }
        let mut statuses = Vec::with_capacity(items.len());
        let mut windows = Vec::with_capacity(items.len());
        for ((item, write), counter) in items.iter().zip(&states).zip(counters) {
            statuses.push(status(item, false, write.new_count)?);
            let window_start = write.window_start;
            windows.push(PyTuple::new(
                py,
                [
                    counter,
                    PyString::new(py, &window_start.to_string()).into_any(),
                    intern!(py, "local").clone().into_any(),
                ],
            )?);
        }
        let out = PyDict::new(py);
        out.set_item(intern!(py, "overall_code"), code(py, false))?;
        out.set_item(intern!(py, "statuses"), PyList::new(py, statuses)?)?;
        out.set_item(
            intern!(py, "reservation_windows"),
            pyo3::types::PyFrozenSet::new(py, &windows)?,
        )?;
        // Pass 2: reset the expired windows' siblings (each scope once, with the window size
        // of its last expired counter, as LiteLLM's dict keeps it), then apply.
        let mut expired_scopes: Vec<(&str, i64)> = Vec::new();
        for (item, write) in items.iter().zip(&states) {
            if write.window_expired {
                match expired_scopes.iter_mut().find(|(s, _)| *s == item.scope) {
                    Some(e) => e.1 = item.window_size,
                    None => expired_scopes.push((&item.scope, item.window_size)),
                }
            }
        }
        let secs = |t: i64| Some(Duration::from_secs(t.max(0) as u64));
        for (scope, window_size) in &expired_scopes {
            for sibling in [ScopeKey::Requests, ScopeKey::Tokens] {
                space.set(scope, sibling, Value::Int(0), secs(*window_size), clock);
            }
        }
        for (item, write) in items.iter().zip(&states) {
            if write.window_expired {
                space.set(
                    &item.scope,
                    ScopeKey::Window,
                    Value::Text(now_int.to_string()),
                    secs(item.window_size),
                    clock,
                );
            }
            space.set(
                &item.scope,
                item.kind,
                Value::Int(write.new_count),
                secs(item.ttl),
                clock,
            );
        }
        self.count(None);
        Ok(Some(out))
    }
}

/// A fresh slot id, as LiteLLM's `uuid.uuid4().hex` gives one (from the crate's generator).
fn fresh_slot_id() -> String {
    static IDS: std::sync::OnceLock<fastllm_ratelimit::SlotIds> = std::sync::OnceLock::new();
    IDS.get_or_init(fastllm_ratelimit::SlotIds::new)
        .next_id()
        .as_str()
        .to_owned()
}

impl LocalRateLimits {
    fn apply_increment(&self, increment: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
        let py = increment.py();
        let counter = increment.getattr(intern!(py, "counter"))?;
        let amount = extract_value(&increment.getattr(intern!(py, "amount"))?)?;
        if !matches!(amount, Value::Int(_) | Value::Float(_)) {
            return Err(PyTypeError::new_err(
                "an increment's amount must be an int or a float",
            ));
        }
        let ttl: Option<f64> = increment.getattr(intern!(py, "ttl"))?.extract()?;
        let ttl = ttl_of(ttl)?;
        let (scope, suffix) = entry_key(&counter)?;
        let now = Instant::now();
        let mut space = self.lock();
        let existed = space.get(&scope, suffix, now).is_some();
        let Some(next) = Value::plus(space.get(&scope, suffix, now), &amount) else {
            return Ok(None);
        };
        space.set(
            &scope,
            suffix,
            next.clone(),
            if existed { None } else { ttl },
            now,
        );
        Ok(Some(next))
    }
}
