//! The 1.109 line's v3 limiter `should_rate_limit`, in memory, decided in one native call.
//!
//! That limiter keeps its window starts and counters in the proxy's shared cache
//! (`InternalUsageCache` → `DualCache` → `InMemoryCache`), where other hooks read them. So the
//! state stays there: this path reads and writes it with `InMemoryCache`'s own steps
//! ([`crate::cache_steps`]), in LiteLLM's order, and decides natively around them (the
//! descriptors, the keys, the windowed pre-check, the sliding window, the response). What it
//! does not reproduce (Redis, a held limiter lock,
//! odd descriptors or stored values) is handed back before anything changes, or, for a stored
//! value found mid-way, raised as LiteLLM raises it.
//!
//! It is not a `fastllm_ratelimit::Store` behind the crate's `Limiter`, for the reasons
//! [`crate::keyspace`] gives (descriptors with `i64` limits and their own Python objects
//! echoed, the response built as dicts, a per-call `window_size`), and one more: a stored
//! value found mid-way raises LiteLLM's exception after the writes before it, where a `Store`
//! step either runs whole or fails before it writes.

use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyType};
use smallvec::SmallVec;

use crate::cache_steps::{InMemoryCacheSteps, Memory, swallowed};
use crate::clock::since_epoch;
use crate::handback::Handback;
use crate::keyspace::{Desc, Status, limiter_timestamp, over_limit, parse_descriptor, response};
use crate::router_check::memory_tier;
use crate::stats::Stats;
use fastllm_ratelimit::litellm::{ScopeKey, scope_tag, tagged_key};
use fastllm_ratelimit::window::{CounterRef, gauge_full, window_expired, windowed_counters};

/// The counters' values as `int()` takes them (`None`: no such entry).
type Counts = SmallVec<[Option<i64>; 8]>;

/// The 1.109 line's v3 `should_rate_limit` on a memory-only proxy cache.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct V3DualCacheChecks {
    stats: Py<Stats>,
    internal_usage_cache: Py<PyType>,
    dual_cache: Py<PyType>,
    in_memory_cache: Py<PyType>,
    system_clock: Py<PyAny>,
    current_time: Py<PyAny>,
    module: Py<PyAny>,
    steps: Py<InMemoryCacheSteps>,
}

/// `int(value)` of a stored counter or window start: exact ints natively, anything else by
/// Python's `int()` (whose error, if any, is LiteLLM's too).
fn int_of<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if value.cast_exact::<PyInt>().is_ok() {
        return Ok(value.clone());
    }
    value.py().get_type::<PyInt>().call1((value,))
}

impl V3DualCacheChecks {
    /// The limiter's clock as a timestamp: natively when it is `datetime.now` behind the
    /// class's own `_get_current_time`, else through them.
    fn now(&self, handler: &Bound<'_, PyAny>) -> PyResult<f64> {
        let py = handler.py();
        let system = handler
            .getattr(intern!(py, "_time_provider"))?
            .eq(self.system_clock.bind(py))?
            && handler
                .get_type()
                .getattr(intern!(py, "_get_current_time"))?
                .is(self.current_time.bind(py));
        if system {
            return Ok(since_epoch().as_secs_f64());
        }
        limiter_timestamp(handler)
    }

    /// The memory tier, if the limiter's cache is LiteLLM's own and memory-only.
    fn memory<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
    ) -> PyResult<Result<Bound<'py, PyAny>, Handback>> {
        let py = handler.py();
        let usage = handler.getattr(intern!(py, "internal_usage_cache"))?;
        if !usage.get_type().is(self.internal_usage_cache.bind(py)) {
            return Ok(Err(
                "a limiter cache that is not LiteLLM's InternalUsageCache",
            ));
        }
        let memory = match memory_tier(
            &usage.getattr(intern!(py, "dual_cache"))?,
            self.dual_cache.bind(py),
            self.in_memory_cache.bind(py),
        )? {
            Ok(m) => m,
            Err(why) => return Ok(Err(why)),
        };
        // LiteLLM's sliding window runs under this asyncio lock: taken or queued for, the
        // call waits there (LiteLLM's method); free, LiteLLM's call would not yield either.
        let lock = handler.getattr(intern!(py, "_check_and_increment_lock"))?;
        if lock.call_method0(intern!(py, "locked"))?.is_truthy()?
            || lock
                .getattr(intern!(py, "_waiters"))
                .map_or(Ok(true), |w| w.is_truthy())?
        {
            return Ok(Err("the limiter's lock is taken or has waiters"));
        }
        Ok(Ok(memory))
    }

    /// [`Self::run`], with an error before its first cache read (nothing changed yet) handed
    /// back rather than raised.
    fn decide<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        read_only: &Bound<'py, PyAny>,
        skip_tpm_check: &Bound<'py, PyAny>,
        parallel_slot_id: &Bound<'py, PyAny>,
        skip_parallel_check: &Bound<'py, PyAny>,
    ) -> PyResult<Result<Option<Bound<'py, PyDict>>, Handback>> {
        let mut reading = false;
        match self.run(
            handler,
            descriptors,
            read_only,
            skip_tpm_check,
            parallel_slot_id,
            skip_parallel_check,
            &mut reading,
        ) {
            Err(e) if !reading && e.is_instance_of::<PyException>(handler.py()) => {
                Ok(Err("an error reading the limiter or its descriptors"))
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        read_only: &Bound<'py, PyAny>,
        skip_tpm_check: &Bound<'py, PyAny>,
        parallel_slot_id: &Bound<'py, PyAny>,
        skip_parallel_check: &Bound<'py, PyAny>,
        reading: &mut bool,
    ) -> PyResult<Result<Option<Bound<'py, PyDict>>, Handback>> {
        let py = handler.py();
        // Everything up to the first cache read changes nothing.
        let flag = |v: &Bound<'py, PyAny>| -> Result<bool, ()> {
            v.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| ())
        };
        let (Ok(read_only), Ok(skip_tpm), Ok(skip_parallel)) = (
            flag(read_only),
            flag(skip_tpm_check),
            flag(skip_parallel_check),
        ) else {
            return Ok(Err("a flag that is not a bool"));
        };
        let memory = match self.memory(handler)? {
            Ok(m) => m,
            Err(why) => return Ok(Err(why)),
        };
        let Ok(list) = descriptors.cast_exact::<PyList>() else {
            return Ok(Err("descriptors is not a list"));
        };
        let mut descs: SmallVec<[Desc; 4]> = SmallVec::new();
        for d in list.iter() {
            match parse_descriptor(&d, skip_tpm, scope_tag) {
                Ok(d) => descs.push(d),
                Err(()) => return Ok(Err("a descriptor this path does not reproduce")),
            }
        }
        if !(parallel_slot_id.is_none() || parallel_slot_id.is_exact_instance_of::<PyString>()) {
            return Ok(Err("a parallel_slot_id that is not a str"));
        }
        let now = self.now(handler)?;
        if !now.is_finite() || now.abs() >= 9.0e18 {
            return Ok(Err("a time outside the i64 range"));
        }
        let now_int = now.trunc() as i64;
        let window_size = handler.getattr(intern!(py, "window_size"))?;
        if window_size.cast_exact::<PyInt>().is_err() {
            return Ok(Err("a window size that is not an int"));
        }
        if !handler
            .getattr(intern!(py, "batch_rate_limiter_script"))?
            .is_none()
        {
            return Ok(Err("a limiter with a Redis script"));
        }

        // The counters in LiteLLM's order, each with its metadata descriptor (the last
        // windowed one of its `{key:value}` tag); token limits were left out at parsing
        // under `skip_tpm_check`.
        let counters: SmallVec<[CounterRef; 8]> = windowed_counters(&descs, false).collect();
        if counters.is_empty() {
            *reading = true;
            let memory = Memory::new(memory, self.steps.get());
            let gauges = Gauges::of(&descs, skip_parallel);
            return self
                .gauges(
                    handler,
                    &memory,
                    &descs,
                    &gauges,
                    SmallVec::new(),
                    read_only,
                    parallel_slot_id,
                )
                .map(|r| Ok(Some(r)));
        }
        let key_of = |c: &CounterRef, key: ScopeKey| {
            PyString::new(py, &tagged_key(&descs[c.descriptor].scope, key))
        };
        let memory = Memory::new(memory, self.steps.get());
        let swallowed = |e: PyErr| swallowed(py, e);

        // One batch read of every (window, counter) key, stopped by an error (the wrapper
        // then answers None for all: `Ok(None)`); each counter as `int()` takes it (a value it
        // rejects sends the call to LiteLLM's method, whose own reads then raise; reads only
        // drop expired entries, as its own will).
        *reading = true;
        let read_counts = || -> PyResult<Result<Option<Counts>, Handback>> {
            let mut counts = Counts::new();
            for c in &counters {
                for (counter, key) in [
                    (false, key_of(c, ScopeKey::Window)),
                    (true, key_of(c, c.kind.into())),
                ] {
                    let value = match memory.get(&key) {
                        Ok(v) => v,
                        Err(e) => {
                            swallowed(e)?;
                            return Ok(Ok(None));
                        }
                    };
                    if !counter {
                        continue;
                    }
                    if value.is_none() {
                        counts.push(None);
                    } else {
                        match int_of(&value).and_then(|i| i.extract::<i64>()) {
                            Ok(i) => counts.push(Some(i)),
                            Err(_) => {
                                return Ok(Err("a stored counter this path does not reproduce"));
                            }
                        }
                    }
                }
            }
            Ok(Ok(Some(counts)))
        };

        // 1. The local pre-check.
        let mut statuses: SmallVec<[Status; 8]> = SmallVec::new();
        match read_counts()? {
            Err(why) => return Ok(Err(why)),
            Ok(None) => {}
            Ok(Some(counts)) => {
                if over_limit(&descs, &counters, &counts, read_only, &mut statuses) {
                    self.stats.get().record_call();
                    return Ok(Ok(Some(response(py, &descs, true, &statuses)?)));
                }
            }
        }
        if read_only {
            // Read again, counting nothing (a failed read counts every counter as 0).
            let counts = match read_counts()? {
                Err(why) => return Ok(Err(why)),
                Ok(Some(counts)) => counts,
                Ok(None) => counters.iter().map(|_| Some(0)).collect(),
            };
            if over_limit(&descs, &counters, &counts, true, &mut statuses) {
                self.stats.get().record_call();
                return Ok(Ok(Some(response(py, &descs, true, &statuses)?)));
            }
            let gauges = Gauges::of(&descs, skip_parallel);
            return self
                .gauges(
                    handler,
                    &memory,
                    &descs,
                    &gauges,
                    statuses,
                    true,
                    parallel_slot_id,
                )
                .map(|r| Ok(Some(r)));
        }

        // 2. The in-memory sliding window, pair by pair.
        let ttl = window_size.clone();
        let set = |key: &Bound<'py, PyString>, value: &Bound<'py, PyAny>| -> PyResult<()> {
            match memory.set(key, value, &ttl) {
                Ok(()) => Ok(()),
                Err(e) => swallowed(e),
            }
        };
        let mut counts = Counts::new();
        for c in &counters {
            let window_key = key_of(c, ScopeKey::Window);
            let counter_key = key_of(c, c.kind.into());
            let start = match memory.get(&window_key) {
                Ok(v) => v,
                Err(e) => {
                    swallowed(e)?;
                    py.None().into_bound(py)
                }
            };
            let expired = start.is_none() || {
                let start = int_of(&start)?;
                match (start.extract::<i64>(), window_size.extract::<i64>()) {
                    (Ok(start), Ok(size)) => window_expired(Some(start), now_int, size),
                    // Ints past 64 bits compare as Python compares them.
                    _ => PyInt::new(py, now_int).sub(start)?.ge(&window_size)?,
                }
            };
            if expired {
                let zero = PyInt::new(py, 0).into_any();
                set(&key_of(c, ScopeKey::Requests), &zero)?;
                set(&key_of(c, ScopeKey::Tokens), &zero)?;
                set(
                    &window_key,
                    PyString::new(py, &now_int.to_string()).as_any(),
                )?;
                set(&counter_key, PyInt::new(py, 1).as_any())?;
                counts.push(Some(1));
            } else {
                let current = match memory.get(&counter_key) {
                    Ok(v) => v,
                    Err(e) => {
                        swallowed(e)?;
                        py.None().into_bound(py)
                    }
                };
                let next = if current.is_none() {
                    PyInt::new(py, 1).into_any()
                } else {
                    int_of(&current)?.add(1)?
                };
                set(&counter_key, &next)?;
                // (A count past i64 would take 2^63 requests in one window.)
                counts.push(Some(next.extract::<i64>()?));
            }
        }
        if over_limit(&descs, &counters, &counts, false, &mut statuses) {
            self.stats.get().record_call();
            return Ok(Ok(Some(response(py, &descs, true, &statuses)?)));
        }
        let gauges = Gauges::of(&descs, skip_parallel);
        self.gauges(
            handler,
            &memory,
            &descs,
            &gauges,
            statuses,
            false,
            parallel_slot_id,
        )
        .map(|r| Ok(Some(r)))
    }

    /// `_check_parallel_request_gauges` in memory, after a windowed pass that admitted with
    /// `windowed` statuses: the response LiteLLM builds from both.
    #[allow(clippy::too_many_arguments)]
    fn gauges<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        memory: &Memory<'_, 'py>,
        descs: &[Desc],
        gauges: &Gauges,
        mut statuses: SmallVec<[Status; 8]>,
        read_only: bool,
        parallel_slot_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = handler.py();
        self.stats.get().record_call();
        if gauges.0.is_empty() {
            return response(py, descs, false, &statuses);
        }
        let slot_ttl = self
            .module
            .bind(py)
            .getattr(intern!(py, "PARALLEL_REQUEST_SLOT_TTL_SECONDS"))?;
        let status =
            |g: &Gauge, in_flight: i64, over: bool| Status::gauge(g.desc, g.limit, in_flight, over);
        let keys: SmallVec<[Bound<'py, PyString>; 4]> =
            gauges.0.iter().map(|g| PyString::new(py, &g.key)).collect();
        // `_read_local_gauge_counts`: one batch read (all 0 if it raises); a registry counts
        // its slots stamped since the cutoff, read from the clock for each registry.
        let mut raw: SmallVec<[Bound<'py, PyAny>; 4]> = SmallVec::new();
        let mut failed = false;
        for key in &keys {
            match memory.get(key) {
                Ok(v) => raw.push(v),
                Err(e) => {
                    swallowed(py, e)?;
                    failed = true;
                    break;
                }
            }
        }
        let mut counts: SmallVec<[i64; 4]> = SmallVec::new();
        for (i, _) in gauges.0.iter().enumerate() {
            counts.push(if failed {
                0
            } else {
                self.in_flight(handler, &raw[i], &slot_ttl)?
            });
        }
        if read_only {
            let mut over = false;
            for (g, &n) in gauges.0.iter().zip(&counts) {
                let o = gauge_full(n, g.limit);
                over |= o;
                statuses.push(status(g, n, o));
            }
            return response(py, descs, over, &statuses);
        }
        for (g, &n) in gauges.0.iter().zip(&counts) {
            if gauge_full(n, g.limit) {
                statuses.push(status(g, n, true));
                return response(py, descs, true, &statuses);
            }
        }
        // `_acquire_parallel_slots_in_memory` (LiteLLM holds its lock here; it is free).
        let slot_id = if parallel_slot_id.is_truthy()? {
            parallel_slot_id.clone()
        } else {
            // `uuid.uuid4().hex`, through the module's `uuid` as LiteLLM calls it.
            self.module
                .bind(py)
                .getattr(intern!(py, "uuid"))?
                .call_method0(intern!(py, "uuid4"))?
                .getattr(intern!(py, "hex"))?
        };
        let now = PyFloat::new(py, self.now(handler)?).into_any();
        let cutoff = now.sub(&slot_ttl)?;
        let mut states: SmallVec<[(Option<Bound<'py, PyDict>>, i64); 4]> = SmallVec::new();
        for (g, key) in gauges.0.iter().zip(&keys) {
            let value = match memory.get(key) {
                Ok(v) => v,
                Err(e) => {
                    swallowed(py, e)?;
                    py.None().into_bound(py)
                }
            };
            let (registry, in_flight) = if let Ok(slots) = value.cast::<PyDict>() {
                let kept = PyDict::new(py);
                for (id, ts) in slots.iter() {
                    if (ts.is_instance_of::<PyInt>() || ts.is_instance_of::<PyFloat>())
                        && ts.ge(&cutoff)?
                    {
                        kept.set_item(id, py.get_type::<PyFloat>().call1((ts,))?)?;
                    }
                }
                let n = kept.len() as i64;
                (Some(kept), n)
            } else if value.is_none() {
                (Some(PyDict::new(py)), 0)
            } else {
                (None, int_of(&value)?.extract::<i64>()?.max(0))
            };
            if gauge_full(in_flight, g.limit) {
                statuses.push(status(g, in_flight, true));
                return response(py, descs, true, &statuses);
            }
            states.push((registry, in_flight));
        }
        for ((g, key), (registry, in_flight)) in gauges.0.iter().zip(&keys).zip(states) {
            let value = match registry {
                Some(registry) => {
                    registry.set_item(&slot_id, &now)?;
                    registry.into_any()
                }
                None => PyInt::new(py, in_flight + 1).into_any(),
            };
            if let Err(e) = memory.set(key, &value, &slot_ttl) {
                swallowed(py, e)?;
            }
            statuses.push(status(g, in_flight + 1, false));
        }
        response(py, descs, false, &statuses)
    }

    /// `_gauge_in_flight_from_cache_value`.
    fn in_flight(
        &self,
        handler: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        slot_ttl: &Bound<'_, PyAny>,
    ) -> PyResult<i64> {
        let py = value.py();
        if value.is_none() {
            return Ok(0);
        }
        if let Ok(slots) = value.cast::<PyDict>() {
            let cutoff = PyFloat::new(py, self.now(handler)?).sub(slot_ttl)?;
            let mut n = 0;
            for ts in slots.values() {
                if (ts.is_instance_of::<PyInt>() || ts.is_instance_of::<PyFloat>())
                    && ts.ge(&cutoff)?
                {
                    n += 1;
                }
            }
            return Ok(n);
        }
        Ok(int_of(value)?.extract::<i64>()?.max(0))
    }
}

/// One `max_parallel_requests` gauge of a call: its descriptor, limit and cache key.
struct Gauge {
    desc: usize,
    limit: i64,
    key: String,
}

/// The call's gauges, in descriptor order (none when `skip_parallel_check`).
struct Gauges(SmallVec<[Gauge; 4]>);

impl Gauges {
    fn of(descs: &[Desc], skip: bool) -> Self {
        if skip {
            return Self(SmallVec::new());
        }
        Self(
            descs
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    d.parallel().map(|limit| Gauge {
                        desc: i,
                        limit,
                        key: tagged_key(&d.scope, ScopeKey::Gauge),
                    })
                })
                .collect(),
        )
    }
}

#[pymethods]
impl V3DualCacheChecks {
    /// The limiter classes' collaborators this path reads: LiteLLM's `InternalUsageCache`,
    /// `DualCache` and `InMemoryCache` classes, `datetime.now` and the limiter class's own
    /// `_get_current_time`, the limiter's `module` (its `PARALLEL_REQUEST_SLOT_TTL_SECONDS`,
    /// and its `uuid` for a slot id when the caller gives none), and what the cache module
    /// calls (`steps`).
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        stats: Py<Stats>,
        internal_usage_cache: Py<PyType>,
        dual_cache: Py<PyType>,
        in_memory_cache: Py<PyType>,
        system_clock: Py<PyAny>,
        current_time: Py<PyAny>,
        module: Py<PyAny>,
        steps: Py<InMemoryCacheSteps>,
    ) -> Self {
        Self {
            stats,
            internal_usage_cache,
            dual_cache,
            in_memory_cache,
            system_clock,
            current_time,
            module,
            steps,
        }
    }

    /// `handler.should_rate_limit(descriptors, ...)`'s response, or `None` (nothing changed,
    /// the fallback counted) when LiteLLM must decide. An error raised once the cache has
    /// been read is LiteLLM's own (a stored window start `int()` rejects) and goes up.
    #[pyo3(signature = (handler, descriptors, read_only, skip_tpm_check, parallel_slot_id, skip_parallel_check))]
    fn should_rate_limit<'py>(
        &self,
        handler: &Bound<'py, PyAny>,
        descriptors: &Bound<'py, PyAny>,
        read_only: &Bound<'py, PyAny>,
        skip_tpm_check: &Bound<'py, PyAny>,
        parallel_slot_id: &Bound<'py, PyAny>,
        skip_parallel_check: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.decide(
            handler,
            descriptors,
            read_only,
            skip_tpm_check,
            parallel_slot_id,
            skip_parallel_check,
        )? {
            Ok(response) => Ok(response),
            Err(why) => {
                self.stats.get().record_fallback(why);
                Ok(None)
            }
        }
    }
}
