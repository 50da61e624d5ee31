//! LiteLLM's `InMemoryCache.get_cache` and `increment_cache`, run natively on the cache's own
//! `cache_dict`, `ttl_dict` and `expiration_heap`.
//!
//! Every step is the one LiteLLM's method takes, in its order: the same `_clock()` calls, the
//! same comparisons (Python's own, so floats and odd values compare as they do there), the
//! heap kept by the `heapq` functions LiteLLM calls, its two locks taken (without blocking:
//! a lock another thread holds sends the operation to LiteLLM's method, which waits for it
//! with the GIL released). What is rare or unusual (eviction of a full cache, a heap to
//! rebuild, values that are not ints or floats, attributes of another type) is handed to
//! LiteLLM's own method at the point where the two would start to differ, so the result is
//! LiteLLM's in every case.

use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::clock::since_epoch;

/// What LiteLLM's cache module calls and reads, captured when the patch is applied:
/// `heapq.heappush` and `heappop`, `json.loads`, the module itself (its
/// `MAX_SIZE_PER_ITEM_IN_MEMORY_CACHE_IN_KB`, its `time`), the code of `InMemoryCache`'s default
/// clock (`lambda: time.time()`), and the `time` module with its `time` function. A cache on
/// that default clock, with `time.time` not replaced, is read with the system clock natively.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct InMemoryCacheSteps {
    heappush: Py<PyAny>,
    heappop: Py<PyAny>,
    json_loads: Py<PyAny>,
    module: Py<PyAny>,
    default_clock_code: Py<PyAny>,
    time_module: Py<PyAny>,
    time_time: Py<PyAny>,
}

#[pymethods]
impl InMemoryCacheSteps {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        heappush: Py<PyAny>,
        heappop: Py<PyAny>,
        json_loads: Py<PyAny>,
        module: Py<PyAny>,
        default_clock_code: Py<PyAny>,
        time_module: Py<PyAny>,
        time_time: Py<PyAny>,
    ) -> Self {
        Self {
            heappush,
            heappop,
            json_loads,
            module,
            default_clock_code,
            time_module,
            time_time,
        }
    }
}

/// One `InMemoryCache`, its containers read once per operation.
pub(crate) struct Memory<'a, 'py> {
    cache: Bound<'py, PyAny>,
    fns: &'a InMemoryCacheSteps,
    /// The cache's clock is `time.time()`, read natively (decided once per call: no other
    /// Python code runs inside one).
    system_clock: std::cell::OnceCell<bool>,
    dicts: std::cell::OnceCell<Option<(Bound<'py, PyDict>, Bound<'py, PyDict>)>>,
}

/// `true` for an exact int or float (not a bool): `json.loads` raises on them, so LiteLLM's
/// `get_cache` returns them as stored, and `len(str(v))` is small.
fn plain_number(v: &Bound<'_, PyAny>) -> bool {
    v.cast_exact::<PyInt>().is_ok() || v.cast_exact::<PyFloat>().is_ok()
}

/// The value of `text` if it is exactly a JSON integer literal (`-?(0|[1-9][0-9]*)`, no
/// whitespace) that fits an i64, which `json.loads` decodes to that int.
fn json_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let well_formed = match digits.as_bytes() {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if well_formed { text.parse().ok() } else { None }
}

/// `Ok` for an error LiteLLM's `except Exception` around a cache call (in its wrappers or its
/// checks) would catch; anything else (`KeyboardInterrupt`, ...) goes on up.
pub(crate) fn swallowed(py: Python<'_>, error: PyErr) -> PyResult<()> {
    if error.is_instance_of::<PyException>(py) {
        Ok(())
    } else {
        Err(error)
    }
}

/// A lock taken without blocking, released on drop.
pub(crate) struct Held<'py>(Bound<'py, PyAny>);

impl<'py> Held<'py> {
    pub(crate) fn try_take(lock: Bound<'py, PyAny>) -> PyResult<Option<Self>> {
        let taken = lock
            .call_method1(intern!(lock.py(), "acquire"), (false,))?
            .is_truthy()?;
        // Lazily: a `Held` dropped unused would release a lock this call does not hold.
        Ok(taken.then(|| Held(lock)))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Releasing a lock this call took cannot fail; if it somehow did, LiteLLM's next
        // `with` on it would show it.
        let _ = self.0.call_method0(intern!(self.0.py(), "release"));
    }
}

impl<'a, 'py> Memory<'a, 'py> {
    pub(crate) fn new(cache: Bound<'py, PyAny>, fns: &'a InMemoryCacheSteps) -> Self {
        Self {
            cache,
            fns,
            system_clock: std::cell::OnceCell::new(),
            dicts: std::cell::OnceCell::new(),
        }
    }

    /// Whether the cache's `_clock` is the default `lambda: time.time()` with `time.time`
    /// LiteLLM's module still reaches unreplaced.
    fn on_system_clock(&self, clock: &Bound<'py, PyAny>) -> PyResult<bool> {
        if let Some(&known) = self.system_clock.get() {
            return Ok(known);
        }
        let py = self.py();
        let fns = self.fns;
        let default = clock
            .getattr(intern!(py, "__code__"))
            .is_ok_and(|code| code.is(fns.default_clock_code.bind(py)))
            && fns
                .module
                .bind(py)
                .getattr(intern!(py, "time"))
                .is_ok_and(|t| t.is(fns.time_module.bind(py)))
            && fns
                .time_module
                .bind(py)
                .getattr(intern!(py, "time"))
                .is_ok_and(|f| f.is(fns.time_time.bind(py)));
        let _ = self.system_clock.set(default);
        Ok(default)
    }

    fn py(&self) -> Python<'py> {
        self.cache.py()
    }

    fn attr(&self, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.cache.getattr(name)
    }

    /// `cache_dict` and `ttl_dict` (exact dicts, else `None`), read once per call: LiteLLM
    /// clears them in place and never rebinds them.
    fn dicts(&self) -> PyResult<Option<(Bound<'py, PyDict>, Bound<'py, PyDict>)>> {
        if let Some(known) = self.dicts.get() {
            return Ok(known.clone());
        }
        let py = self.py();
        let cache = self.attr(intern!(py, "cache_dict"))?;
        let ttl = self.attr(intern!(py, "ttl_dict"))?;
        let dicts = match (
            cache.cast_into_exact::<PyDict>(),
            ttl.cast_into_exact::<PyDict>(),
        ) {
            (Ok(c), Ok(t)) => Some((c, t)),
            _ => None,
        };
        let _ = self.dicts.set(dicts.clone());
        Ok(dicts)
    }

    fn now(&self) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py();
        let clock = self.attr(intern!(py, "_clock"))?;
        if self.on_system_clock(&clock)? {
            // `time.time()`: the system clock's seconds as a float.
            return Ok(PyFloat::new(py, since_epoch().as_secs_f64()).into_any());
        }
        clock.call0()
    }

    /// `cache_dict.pop(key, None); ttl_dict.pop(key, None)`.
    fn remove(
        cache: &Bound<'py, PyDict>,
        ttl: &Bound<'py, PyDict>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        if cache.contains(key)? {
            cache.del_item(key)?;
        }
        if ttl.contains(key)? {
            ttl.del_item(key)?;
        }
        Ok(())
    }

    /// LiteLLM's `get_cache(key)`.
    pub(crate) fn get(&self, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py();
        let Some((cache, ttl)) = self.dicts()? else {
            return self.cache.call_method1(intern!(py, "get_cache"), (key,));
        };
        if !cache.contains(key)? {
            return Ok(py.None().into_bound(py));
        }
        // `evict_element_if_expired`: `self._clock() > self.ttl_dict[key]`, clock first.
        let now = self.now()?;
        if let Some(expires) = ttl.get_item(key)?
            && now.gt(&expires)?
        {
            Self::remove(&cache, &ttl, key.as_any())?;
            return Ok(py.None().into_bound(py));
        }
        let Some(value) = cache.get_item(key)? else {
            return Ok(py.None().into_bound(py));
        };
        if plain_number(&value) {
            return Ok(value);
        }
        // `json.loads` of what LiteLLM writes for a window start, `str(int)`: a JSON integer
        // literal decodes to that int (anything else is decoded by `json.loads` itself).
        if let Ok(text) = value.cast_exact::<PyString>()
            && let Some(int) = json_int(text.to_str()?)
        {
            return Ok(PyInt::new(py, int).into_any());
        }
        match self.fns.json_loads.bind(py).call1((&value,)) {
            Ok(decoded) => Ok(decoded),
            Err(e) if e.is_instance_of::<PyException>(py) => Ok(value),
            Err(e) => Err(e),
        }
    }

    /// LiteLLM's `increment_cache(key, by, ttl=ttl)`: the new value.
    pub(crate) fn increment(
        &self,
        key: &Bound<'py, PyString>,
        by: i64,
        ttl: &Bound<'py, PyAny>,
        kwargs: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py();
        let python = || {
            self.cache
                .call_method(intern!(py, "increment_cache"), (key, by), Some(kwargs))
        };
        let Some(_held) = Held::try_take(self.attr(intern!(py, "_increment_lock"))?)? else {
            return python();
        };
        let current = self.get(key)?;
        let base = if current.is_truthy()? {
            current
        } else {
            PyInt::new(py, 0).into_any()
        };
        let value = match base.cast_exact::<PyInt>().ok() {
            Some(i) => match i.extract::<i64>().ok().and_then(|i| i.checked_add(by)) {
                Some(sum) => PyInt::new(py, sum).into_any(),
                None => base.add(by)?,
            },
            None => base.add(by)?,
        };
        self.set(key, &value, ttl)?;
        Ok(value)
    }

    /// LiteLLM's `set_cache(key, value, ttl=ttl)`.
    pub(crate) fn set(
        &self,
        key: &Bound<'py, PyString>,
        value: &Bound<'py, PyAny>,
        ttl: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = self.py();
        let python = || {
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "ttl"), ttl)?;
            self.cache
                .call_method(intern!(py, "set_cache"), (key, value), Some(&kwargs))
                .map(drop)
        };
        let max_size = self.attr(intern!(py, "max_size_in_memory"))?;
        if max_size.eq(0)? {
            return Ok(());
        }
        let (Ok(max_size), Some((cache, ttl_dict))) =
            (max_size.extract::<i64>().map(|_| max_size), self.dicts()?)
        else {
            return python();
        };
        if max_size.cast_exact::<PyInt>().is_err() {
            return python();
        }
        let Some(_held) = Held::try_take(self.attr(intern!(py, "_write_lock"))?)? else {
            return python();
        };
        self.evict(&cache, &ttl_dict, &max_size)?;
        if !self.value_fits(value)? {
            return Ok(());
        }
        cache.set_item(key, value)?;
        // `allow_ttl_override`: no expiry yet, or one already passed (the clock read only then).
        let override_ttl = match ttl_dict.get_item(key)? {
            None => true,
            Some(expires) if expires.is_none() => true,
            Some(expires) => expires.lt(self.now()?)?,
        };
        if override_ttl {
            let expires = if ttl.is_none() {
                self.now()?.add(self.attr(intern!(py, "default_ttl"))?)?
            } else {
                let seconds = py.get_type::<PyFloat>().call1((ttl,))?;
                self.now()?.add(seconds)?
            };
            ttl_dict.set_item(key, &expires)?;
            let heap = self.attr(intern!(py, "expiration_heap"))?;
            self.fns
                .heappush
                .bind(py)
                .call1((heap, PyTuple::new(py, [expires, key.clone().into_any()])?))?;
        }
        Ok(())
    }

    /// `check_value_size` for the values this path writes; anything else asks LiteLLM's.
    fn value_fits(&self, value: &Bound<'py, PyAny>) -> PyResult<bool> {
        let py = self.py();
        if value.cast_exact::<PyInt>().is_ok() {
            let per_item = self.attr(intern!(py, "max_size_per_item"))?;
            let unit = self
                .fns
                .module
                .bind(py)
                .getattr(intern!(py, "MAX_SIZE_PER_ITEM_IN_MEMORY_CACHE_IN_KB"))?;
            if let (Ok(per_item), Ok(unit)) = (per_item.extract::<i64>(), unit.extract::<i64>())
                && per_item.checked_mul(unit).is_some_and(|limit| limit > 20)
                && value.extract::<i64>().is_ok()
            {
                // `len(str(value)) < limit`: an i64's decimal form is at most 20 characters.
                return Ok(true);
            }
        }
        self.cache
            .call_method1(intern!(py, "check_value_size"), (value,))?
            .is_truthy()
    }

    /// `evict_cache`: the expired and outdated heap roots go here; a full cache, or a heap
    /// to rebuild, is finished by LiteLLM's own method (whose first step then finds nothing).
    fn evict(
        &self,
        cache: &Bound<'py, PyDict>,
        ttl: &Bound<'py, PyDict>,
        max_size: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let py = self.py();
        let heap = self.attr(intern!(py, "expiration_heap"))?;
        let now = self.now()?;
        let Ok(list) = heap.cast::<PyList>() else {
            return self
                .cache
                .call_method0(intern!(py, "evict_cache"))
                .map(drop);
        };
        let heappop = self.fns.heappop.bind(py);
        while let Ok(root) = list.get_item(0) {
            let Ok(root) = root.cast_into_exact::<PyTuple>() else {
                return self
                    .cache
                    .call_method0(intern!(py, "evict_cache"))
                    .map(drop);
            };
            if root.len() != 2 {
                return self
                    .cache
                    .call_method0(intern!(py, "evict_cache"))
                    .map(drop);
            }
            let (expires, key) = (root.get_item(0)?, root.get_item(1)?);
            let current = ttl.get_item(&key)?;
            let outdated = match &current {
                None => expires.ne(py.None())?,
                Some(c) => expires.ne(c)?,
            };
            if outdated {
                heappop.call1((list,))?;
            } else if expires.le(&now)? {
                heappop.call1((list,))?;
                Self::remove(cache, ttl, &key)?;
            } else {
                break;
            }
        }
        let rebuild = (list.len() as i64) > 2 * max_size.extract::<i64>()?;
        let full = (cache.len() as i64) >= max_size.extract::<i64>()?;
        if rebuild || full {
            self.cache.call_method0(intern!(py, "evict_cache"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::json_int;

    #[test]
    fn json_integer_literals_only() {
        assert_eq!(json_int("1795865207"), Some(1_795_865_207));
        assert_eq!(json_int("0"), Some(0));
        assert_eq!(json_int("-12"), Some(-12));
        // What `json.loads` rejects or decodes to something else is left to it.
        for text in [
            "",
            "-",
            "01",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "-0x1",
            "١٢",
            "99999999999999999999",
        ] {
            assert_eq!(json_int(text), None, "{text:?}");
        }
    }
}
