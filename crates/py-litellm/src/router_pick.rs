//! The router's pick, in one native call: the group's deployments, the ones cooling down left
//! out, then the strategy with LiteLLM's rules. simple-shuffle is `fastllm_router`'s port of
//! LiteLLM's `simple_shuffle`; it and the strategies that draw (usage-based-v2's ties,
//! latency-based's order and buffer) draw from Python's own `random` module, so the global
//! random state moves exactly as LiteLLM's `random.choices` / `random.choice` / `random.sample`
//! would move it. The stateful strategies (least-busy, usage-based v1 and v2, latency-based,
//! cost-based) read their counts, latencies and maps from LiteLLM's `InMemoryCache` with that
//! cache's own steps (`memcache`), and make the writes LiteLLM's pick makes (the entries it adds
//! to a cached map, least-busy's reservation), so LiteLLM's own handlers keep reading and feeding
//! the same state.
//!
//! The patch layer builds one picker per router and configuration (the deployments, their
//! `weight`/`rpm`/`tpm` as LiteLLM's `_metric_weight` reads them, their limits, models and
//! prices) and
//! only for routers whose configuration adds no filter of its own; everything else stays
//! LiteLLM's.

use std::collections::HashMap;
use std::sync::Mutex;

use fastllm_router::litellm::keys;
use fastllm_router::strategy::simple_shuffle::pick_index;
use fastllm_router::strategy::{
    Usage, cost, latency, least_busy, python_order, usage_v1, usage_v2,
};
use fastllm_router::{Minute, RouterRng};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PySequence, PyString, PyTuple};

use crate::cache_steps::{Held, InMemoryCacheSteps, Memory};

/// Python's `random` module instance as a [`RouterRng`]: every 32-bit word is
/// `getrandbits(32)`, which is one `genrand_uint32` of CPython's Mersenne Twister, so
/// `random()`, `_randbelow` and `choices` built on it draw what CPython's do.
struct PythonRandom<'a, 'py> {
    getrandbits: &'a Bound<'py, PyAny>,
    /// `(32,)`, made once per pick.
    args: Bound<'py, PyTuple>,
    error: Option<PyErr>,
}

impl<'a, 'py> PythonRandom<'a, 'py> {
    fn new(getrandbits: &'a Bound<'py, PyAny>) -> PyResult<Self> {
        Ok(Self {
            getrandbits,
            args: PyTuple::new(getrandbits.py(), [32u32])?,
            error: None,
        })
    }
}

impl RouterRng for PythonRandom<'_, '_> {
    fn next_u32(&mut self) -> u32 {
        if self.error.is_some() {
            return 0;
        }
        match self
            .getrandbits
            .call1(&self.args)
            .and_then(|word| word.extract::<u32>())
        {
            Ok(word) => word,
            Err(error) => {
                // Kept and raised once the pick ends; a Mersenne Twister does not fail.
                self.error = Some(error);
                0
            }
        }
    }
}

/// A deployment's cost-map keys and own input and output prices (see `Group::pricing`).
type Pricing = (Vec<String>, Option<f64>, Option<f64>);

/// A minute's usage-based-v2 keys: the minute, and per deployment its tpm and rpm key.
type UsageKeys = (Minute, Vec<(Py<PyString>, Py<PyString>)>);

/// 1.110's least-busy reservations: the handler's reservation store (an `InMemoryCache`), the
/// module's lock, the handler's clock and the reservation TTL in seconds.
type Reservations<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, f64);

/// One model group: its deployments in LiteLLM's order, their ids, and one weight per
/// deployment for each of `weight`, `rpm`, `tpm` (absent as 0.0).
struct Group {
    ids: Vec<String>,
    /// The same ids as Python strings, made once.
    id_strings: Vec<Py<PyString>>,
    /// latency-based's cache key of the group, `{group}_map`.
    latency_key: Py<PyString>,
    /// cost-based's cache key of the group, `cost_map:{group}`.
    cost_key: Py<PyString>,
    /// LiteLLM's least-busy cache key of each deployment, `{group}_request_count:{id}`.
    count_keys: Vec<Py<PyString>>,
    /// The key of its held picks on 1.110, `least_busy_reservations:{id}`.
    reservation_keys: Vec<Py<PyString>>,
    /// Each deployment's `litellm_params.model`, as usage-based-v2 keys its counters.
    models: Vec<String>,
    /// Each deployment's `litellm_params` `tpm` and `rpm` limits (`None`: unlimited).
    limits: Vec<(Option<f64>, Option<f64>)>,
    /// Each deployment's prices as cost-based routing reads them: the cost-map keys it is
    /// priced under, in order (`deployment_pricing_models`: `base_model`, then its model), and
    /// its own `litellm_params` input and output price per token (`None`: not set, or falsy).
    pricing: Vec<Pricing>,
    /// usage-based-v2's counter keys of the last minute asked for: the minute, then each
    /// deployment's tpm and rpm key (made once a minute, so their hashes are reused).
    usage_keys: Mutex<Option<UsageKeys>>,
    deployments: Vec<Py<PyAny>>,
    weights: [Vec<f64>; 3],
}

/// A router's simple-shuffle picks (see the module docs).
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct GroupPicker {
    groups: HashMap<String, Group>,
    getrandbits: Py<PyAny>,
    copy: bool,
    /// Cost-map rows whose keys were all seen to be exact `str`, by address, each held (so
    /// the address is not reused) with the length it had then.
    plain_rows: Mutex<HashMap<usize, (Py<PyAny>, usize)>>,
}

/// `value` with every exact dict and list in it copied (other objects shared), as a fresh
/// deployment document is built for each pick.
fn fresh<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        let copy = PyDict::new(py);
        for (key, item) in dict.iter() {
            copy.set_item(key, fresh(&item)?)?;
        }
        return Ok(copy.into_any());
    }
    if let Ok(list) = value.cast_exact::<PyList>() {
        let items = list
            .iter()
            .map(|item| fresh(&item))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(PyList::new(py, items)?.into_any());
    }
    Ok(value.clone())
}

/// A stored usage counter as usage-based-v2 compares it: `None` (absent), else the number
/// (an `int` within 2^53 or a finite `float`); `Err(())` for anything else, left to LiteLLM.
fn usage(value: &Bound<'_, PyAny>) -> Result<Option<f64>, ()> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(int) = value.cast_exact::<PyInt>() {
        let v = int.extract::<i64>().map_err(|_| ())?;
        return if v.abs() <= 1 << 53 {
            Ok(Some(v as f64))
        } else {
            Err(())
        };
    }
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        let f = float.value();
        return if f.is_finite() { Ok(Some(f)) } else { Err(()) };
    }
    Err(())
}

/// A cost-map price as `_as_rate` reads it: `Ok(None)` for anything but an `int` or `float`
/// (a `bool` included), the number for an exact `int` within 2^53 or `float`; `Err(())` for
/// their subclasses and larger ints, left to LiteLLM.
fn rate(value: Option<Bound<'_, PyAny>>) -> Result<Option<f64>, ()> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        return Ok(Some(float.value()));
    }
    if let Ok(int) = value.cast_exact::<PyInt>() {
        let v = int.extract::<i64>().map_err(|_| ())?;
        return if v.abs() <= 1 << 53 {
            Ok(Some(v as f64))
        } else {
            Err(())
        };
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(None);
    }
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        return Err(());
    }
    Ok(None)
}

/// A usage count this path compares as LiteLLM does: an `int` within 2^53 or a finite
/// `float` (`None` for anything else, `None` itself included: LiteLLM's arithmetic on it
/// raises, so that pick is left to LiteLLM).
fn count(value: &Bound<'_, PyAny>) -> Option<f64> {
    usage(value).ok().flatten()
}

/// Latency samples: each number with its Python object.
type Samples<'py> = Vec<(f64, Bound<'py, PyAny>)>;

/// A latency sample list as `_usable_latency_samples` keeps it (finite, `>= 0`), each as
/// the number and its Python object; `None` for anything but a list or tuple of `int`s
/// within 2^53 and `float`s, left to LiteLLM.
fn samples<'py>(value: &Bound<'py, PyAny>) -> Option<Samples<'py>> {
    let items: Vec<Bound<'py, PyAny>> = if let Ok(list) = value.cast_exact::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = value.cast_exact::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return None;
    };
    let mut usable = Vec::with_capacity(items.len());
    for item in items {
        let number = usage(&item).ok()??;
        if number.is_finite() && number >= 0.0 {
            usable.push((number, item));
        }
    }
    Some(usable)
}

/// A count in a latency map's minute entry (`.get(key, 0)`), as a number; `None` for a value
/// this path leaves to LiteLLM.
fn minute_count(entry: Option<&Bound<'_, PyDict>>, key: &Bound<'_, PyString>) -> Option<f64> {
    let Some(entry) = entry else { return Some(0.0) };
    match entry.get_item(key).ok()? {
        None => Some(0.0),
        Some(value) => usage(&value).ok()?,
    }
}

/// How many of the stored picks `value` are younger than `ttl` at `now`
/// (`_unexpired(_picks(...))`), or `None` for a value this path leaves to LiteLLM.
fn live_picks(value: &Bound<'_, PyAny>, now: f64, ttl: f64) -> Option<i64> {
    if value.is_none() {
        return Some(0);
    }
    let picks = value.cast_exact::<PyTuple>().ok()?;
    let mut live = 0;
    for pick in picks.iter() {
        let pick = pick.cast_into_exact::<PyTuple>().ok()?;
        if pick.len() != 2 {
            return None;
        }
        let at = pick.get_item(0).ok()?;
        let tag = pick.get_item(1).ok()?;
        if !(tag.is_none() || tag.is_exact_instance_of::<PyString>()) {
            return None;
        }
        let at = if let Ok(f) = at.cast_exact::<PyFloat>() {
            f.value()
        } else {
            let int = at.cast_exact::<PyInt>().ok()?.extract::<i64>().ok()?;
            if int.abs() > 1 << 53 {
                return None;
            }
            int as f64
        };
        if now - at < ttl {
            live += 1;
        }
    }
    Some(live)
}

/// A stored in-flight count as LiteLLM's least-busy reads it (`float | None`, then `int()`),
/// or `None` for a value this path leaves to LiteLLM.
fn in_flight(value: &Bound<'_, PyAny>) -> Option<i64> {
    const EXACT: i64 = 1 << 53;
    if value.is_none() {
        return Some(0);
    }
    if let Ok(int) = value.cast_exact::<PyInt>() {
        return int.extract::<i64>().ok().filter(|v| v.abs() <= EXACT);
    }
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        let f = float.value();
        // int() truncates toward zero; beyond i64 (or NaN/inf) LiteLLM decides.
        return (f.is_finite() && f.abs() < 9.0e18).then(|| f.trunc() as i64);
    }
    None
}

/// The minute of day of a `datetime`, as usage-based v1 and v2 key their counters by it
/// (`now.strftime("%H-%M")`, spelt by [`keys`]).
fn hour_minute(now: &Bound<'_, PyAny>) -> PyResult<Minute> {
    let py = now.py();
    let hour: i64 = now.getattr(intern!(py, "hour"))?.extract()?;
    let minute: i64 = now.getattr(intern!(py, "minute"))?.extract()?;
    Ok(Minute(hour * 60 + minute))
}

/// `f"{now:%Y-%m-%d}-{now:%H}-{now:%M}"` of a `datetime`, formatted natively (the minute the
/// latency and cost maps key their counts by).
fn precise_minute<'py>(now: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    let py = now.py();
    let field = |name: &Bound<'py, PyString>| -> PyResult<i64> { now.getattr(name)?.extract() };
    Ok(PyString::new(
        py,
        &format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}",
            field(intern!(py, "year"))?,
            field(intern!(py, "month"))?,
            field(intern!(py, "day"))?,
            field(intern!(py, "hour"))?,
            field(intern!(py, "minute"))?
        ),
    ))
}

/// A group's map as `get_cache(key) or {}` reads it: a falsy value is replaced by a new dict
/// (never stored), a dict is the cached one itself; `None` for anything else, left to LiteLLM.
fn cached_map<'py>(
    memory: &Memory<'_, 'py>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let stored = memory.get(key)?;
    if !stored.is_truthy()? {
        return Ok(Some(PyDict::new(key.py())));
    }
    Ok(stored.cast_into_exact::<PyDict>().ok())
}

/// The deployment a map's key names, as LiteLLM's `item == deployment id` finds it: `Ok(None)`
/// for a key that names none of `by_id` (a non-`str` key names none), `Err(())` for a `str`
/// subclass, left to LiteLLM.
fn named(
    key: &Bound<'_, PyAny>,
    by_id: &HashMap<&str, usize>,
) -> PyResult<Result<Option<usize>, ()>> {
    let Ok(key) = key.cast_exact::<PyString>() else {
        return Ok(if key.is_instance_of::<PyString>() {
            Err(())
        } else {
            Ok(None)
        });
    };
    Ok(Ok(by_id.get(key.to_str()?).copied()))
}

/// A latency or cost map entry's counts this minute, `(rpm, tpm)`, as
/// `item_map.get(precise_minute, {}).get(..., 0)` reads them; `None` for an entry or count
/// this path leaves to LiteLLM.
fn minute_counts(
    item_map: &Bound<'_, PyDict>,
    precise_minute: &Bound<'_, PyString>,
) -> PyResult<Option<(f64, f64)>> {
    let py = item_map.py();
    let minute_entry = match item_map.get_item(precise_minute)? {
        None => None,
        Some(entry) => match entry.cast_into_exact::<PyDict>() {
            Ok(entry) => Some(entry),
            Err(_) => return Ok(None),
        },
    };
    Ok(minute_count(minute_entry.as_ref(), intern!(py, "rpm"))
        .zip(minute_count(minute_entry.as_ref(), intern!(py, "tpm"))))
}

/// Why a walk over LiteLLM's state stops before the strategy chooses: a value this path leaves
/// to LiteLLM, or a Python error to raise.
enum Stop {
    HandBack,
    Raise(PyErr),
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Self::Raise(error)
    }
}

/// A strategy's choice made over a walk: the deployment chosen, `None` (LiteLLM picks) when none
/// was or the walk handed back, or the Python error it met.
fn chosen(result: Result<Option<usize>, Stop>) -> PyResult<Option<usize>> {
    match result {
        Ok(choice) => Ok(choice),
        Err(Stop::HandBack) => Ok(None),
        Err(Stop::Raise(error)) => Err(error),
    }
}

/// The indices of `group`'s deployments whose ids are not in `cooling` (a container of str,
/// or `None` for none cooling down), in order.
fn not_cooling(
    py: Python<'_>,
    group: &Group,
    cooling: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<usize>> {
    let Some(cooling) = cooling else {
        return Ok((0..group.ids.len()).collect());
    };
    let mut keep = Vec::with_capacity(group.ids.len());
    for (i, id) in group.id_strings.iter().enumerate() {
        if !cooling.contains(id.bind(py))? {
            keep.push(i);
        }
    }
    Ok(keep)
}

impl GroupPicker {
    /// A deployment's price per token, input plus output, as cost-based routing reads it
    /// (`LowestCostLoggingHandler.async_get_available_deployments`): each price its own
    /// `litellm_params` one when set, else `_deployment_cost_map_rates`'s, read from the first
    /// cost-map row among its pricing models that declares a price (`_as_rate`'s number), else
    /// 5.0. `None` for a row or price this path leaves to LiteLLM (a row that is not a dict, or
    /// has a key that is not an exact `str`, a price of another numeric type, a sum that is NaN).
    fn price(
        &self,
        py: Python<'_>,
        model_cost: &Bound<'_, PyDict>,
        pricing: &Pricing,
    ) -> PyResult<Option<f64>> {
        let (models, own_input, own_output) = pricing;
        let mut map_rates = (None, None);
        if own_input.is_none() || own_output.is_none() {
            for model in models {
                match self.declared_rates(py, model_cost, model)? {
                    Some(Some(rates)) => {
                        map_rates = rates;
                        break;
                    }
                    Some(None) => {}
                    None => return Ok(None),
                }
            }
        }
        let own = cost::TokenPrices {
            input: *own_input,
            output: *own_output,
        };
        let row = cost::TokenPrices {
            input: map_rates.0,
            output: map_rates.1,
        };
        let total = cost::price(own, row);
        Ok((!total.is_nan()).then_some(total))
    }

    /// The input and output rates of `model_cost`'s row of `model` when it declares a price
    /// (`_declares_token_price`), `Some(None)` when there is no such row or it declares none,
    /// `None` for a row this path leaves to LiteLLM.
    #[allow(clippy::type_complexity)]
    fn declared_rates(
        &self,
        py: Python<'_>,
        model_cost: &Bound<'_, PyDict>,
        model: &str,
    ) -> PyResult<Option<Option<(Option<f64>, Option<f64>)>>> {
        let Some(row) = model_cost.get_item(model)? else {
            return Ok(Some(None));
        };
        if row.is_none() {
            return Ok(Some(None));
        }
        // str_keyed(row): LiteLLM reads a copy validated as dict[str, object], which takes a
        // dict subclass's own entries (the cost map's aliased rows are one) as stored.
        let Ok(row) = row.cast_into::<PyDict>() else {
            return Ok(None);
        };
        {
            let address = row.as_ptr() as usize;
            let mut plain = self
                .plain_rows
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let seen = plain
                .get(&address)
                .is_some_and(|(_, len)| *len == row.len());
            if !seen {
                if row
                    .keys()
                    .iter()
                    .any(|key| !key.is_exact_instance_of::<PyString>())
                {
                    return Ok(None);
                }
                if plain.len() >= 4096 {
                    plain.clear();
                }
                plain.insert(address, (row.clone().into_any().unbind(), row.len()));
            }
        }
        let input = row.get_item(intern!(py, "input_cost_per_token"))?;
        let output = row.get_item(intern!(py, "output_cost_per_token"))?;
        // _declares_token_price: either price present and not None.
        let declared = input.as_ref().is_some_and(|v| !v.is_none())
            || output.as_ref().is_some_and(|v| !v.is_none());
        if !declared {
            return Ok(Some(None));
        }
        let (Ok(input), Ok(output)) = (rate(input), rate(output)) else {
            return Ok(None);
        };
        Ok(Some(Some((input, output))))
    }

    /// The `i`th deployment of `group`, as this core serves it.
    fn served<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        group: &Group,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let deployment = group.deployments[i].bind(py);
        if self.copy {
            fresh(deployment).map(Some)
        } else {
            Ok(Some(deployment.clone()))
        }
    }
}

#[pymethods]
impl GroupPicker {
    /// `groups`: model group name -> sequence of `(id, deployment, weight, rpm, tpm)` in the
    /// order LiteLLM lists the group. `getrandbits`: the `random` module's
    /// `random._inst.getrandbits`. `copy`: return a fresh copy of the deployment (as a core
    /// that serves a new document per pick does) instead of the deployment itself.
    #[new]
    fn py_new(groups: &Bound<'_, PyDict>, getrandbits: Py<PyAny>, copy: bool) -> PyResult<Self> {
        let mut built = HashMap::with_capacity(groups.len());
        for (name, members) in groups.iter() {
            let name: String = name.extract()?;
            let members = members.cast_into::<PySequence>()?;
            let len = members.len()?;
            let mut group = Group {
                latency_key: PyString::new(groups.py(), &keys::latency_map(&name)).unbind(),
                cost_key: PyString::new(groups.py(), &keys::cost_map(&name)).unbind(),
                id_strings: Vec::with_capacity(len),
                ids: Vec::with_capacity(len),
                count_keys: Vec::with_capacity(len),
                reservation_keys: Vec::with_capacity(len),
                models: Vec::with_capacity(len),
                limits: Vec::with_capacity(len),
                pricing: Vec::with_capacity(len),
                usage_keys: Mutex::new(None),
                deployments: Vec::with_capacity(len),
                weights: [
                    Vec::with_capacity(len),
                    Vec::with_capacity(len),
                    Vec::with_capacity(len),
                ],
            };
            for member in members.try_iter()? {
                let member = member?.cast_into::<PyTuple>()?;
                // Eight fields, or ten with the deployment's pricing models and own prices.
                let (first, pricing) = if member.len() == 10 {
                    let pricing: Pricing = (
                        member.get_item(8)?.extract()?,
                        member.get_item(9)?.get_item(0)?.extract()?,
                        member.get_item(9)?.get_item(1)?.extract()?,
                    );
                    (member.get_slice(0, 8), Some(pricing))
                } else {
                    (member, None)
                };
                #[allow(clippy::type_complexity)]
                let (id, deployment, weight, rpm, tpm, model, tpm_limit, rpm_limit): (
                    String,
                    Py<PyAny>,
                    f64,
                    f64,
                    f64,
                    String,
                    Option<f64>,
                    Option<f64>,
                ) = first.extract()?;
                // Without pricing fields: a deployment priced under its own model only.
                let pricing = pricing.unwrap_or_else(|| {
                    let models = if model.is_empty() {
                        Vec::new()
                    } else {
                        vec![model.clone()]
                    };
                    (models, None, None)
                });
                group.pricing.push(pricing);
                group.models.push(model);
                group.limits.push((tpm_limit, rpm_limit));
                group
                    .count_keys
                    .push(PyString::new(groups.py(), &keys::least_busy(&name, &id)).unbind());
                group
                    .reservation_keys
                    .push(PyString::new(groups.py(), &keys::least_busy_reservations(&id)).unbind());
                group
                    .id_strings
                    .push(PyString::new(groups.py(), &id).unbind());
                group.ids.push(id);
                group.deployments.push(deployment);
                group.weights[0].push(weight);
                group.weights[1].push(rpm);
                group.weights[2].push(tpm);
            }
            built.insert(name, group);
        }
        Ok(Self {
            groups: built,
            getrandbits,
            copy,
            plain_rows: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `model` is a group this picker serves.
    fn __contains__(&self, model: &str) -> bool {
        self.groups.contains_key(model)
    }

    /// Picks a deployment of `model`, leaving out the ids in `cooling` (any container of
    /// str, or `None`). `None` (nothing drawn) when the group is unknown or every deployment
    /// of it is cooling down: LiteLLM's own pick then answers, with its own error.
    #[pyo3(signature = (model, cooling=None))]
    fn pick<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        let getrandbits = self.getrandbits.bind(py);
        let mut rng = PythonRandom::new(getrandbits)?;
        let mut buf = Vec::with_capacity(group.ids.len());
        let chosen = match cooling {
            None => pick_index(
                group.ids.len(),
                group.weights.iter().map(Vec::as_slice),
                &mut buf,
                &mut rng,
            ),
            Some(_) => {
                let keep = not_cooling(py, group, cooling)?;
                let sets: [Vec<f64>; 3] =
                    [0, 1, 2].map(|m| keep.iter().map(|&i| group.weights[m][i]).collect());
                pick_index(
                    keep.len(),
                    sets.iter().map(Vec::as_slice),
                    &mut buf,
                    &mut rng,
                )
                .map(|k| keep[k])
            }
        };
        if let Some(error) = rng.error {
            return Err(error);
        }
        let Some(i) = chosen else { return Ok(None) };
        self.served(py, i, group)
    }

    /// least-busy: of `model`'s deployments not in `cooling`, the first with the fewest
    /// requests in flight, as LiteLLM's `LeastBusyLoggingHandler` reads them from its router
    /// cache's `InMemoryCache` (`cache`): `{model}_request_count:{id}`, each read with the
    /// cache's own `get_cache` steps (so expired entries are evicted as LiteLLM evicts them),
    /// a missing count as 0, a float truncated as `int()` truncates it.
    ///
    /// With `reservations` (1.110's handler, whose picks also hold reservations): its `lock`
    /// is taken without blocking, its `clock` read once, and each deployment's live picks
    /// (`least_busy_reservations:{id}`, `(time, tag)` pairs younger than `ttl` seconds) are
    /// added to its count, as that handler's `_select` adds them.
    ///
    /// With `reserve` as well, `(selector, tag)`: the pick is held for the request as that
    /// handler's `_select(reserve=True)` holds it, still under the lock: the deployment's live
    /// picks (the selector's own `_live_reservations`) stored back with `(now, tag)` added
    /// (`_store_reservations`), and the pick recorded for `tag` (`_record_pick`) unless it is
    /// `None`.
    ///
    /// `None` (LiteLLM's own pick then answers) for an unknown group, every deployment cooling
    /// down, the lock held elsewhere, or a stored value this path does not read as LiteLLM's
    /// validation does (counts: `None`, an `int` within 2^53 or a finite `float`; picks: a
    /// tuple of `(int | float, str | None)` tuples). The reads it made are the ones LiteLLM's
    /// pick makes first, and reading again changes nothing, so handing back is safe; nothing is
    /// written before the pick is made.
    #[pyo3(signature = (model, cooling, cache, steps, reservations=None, reserve=None))]
    #[allow(clippy::too_many_arguments)]
    fn least_busy<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
        cache: Bound<'py, PyAny>,
        steps: &Bound<'py, InMemoryCacheSteps>,
        reservations: Option<Reservations<'py>>,
        reserve: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        if reserve.is_some() && reservations.is_none() {
            return Err(PyValueError::new_err(
                "a least-busy pick can only reserve with the reservation store",
            ));
        }
        let steps = steps.get();
        // `with _RESERVATIONS_LOCK: now = self._clock()`, before any read.
        let mut held = None;
        let mut live = None;
        let mut clock_now = None;
        if let Some((store, lock, clock, ttl)) = reservations {
            let Some(taken) = Held::try_take(lock)? else {
                return Ok(None);
            };
            held = Some(taken);
            let now_object = clock.call0()?;
            let now: f64 = now_object.extract()?;
            clock_now = Some(now_object);
            live = Some((Memory::new(store, steps), now, ttl));
        }
        let memory = Memory::new(cache, steps);
        let candidates = not_cooling(py, group, cooling)?;
        // The counts first (`_this_workers_counts`), then the reservations, as LiteLLM reads them.
        let mut counts = Vec::with_capacity(candidates.len());
        for &i in &candidates {
            let Some(count) = in_flight(&memory.get(group.count_keys[i].bind(py))?) else {
                return Ok(None);
            };
            counts.push(count);
        }
        if let Some((store, now, ttl)) = &live {
            for (k, &i) in candidates.iter().enumerate() {
                let Some(picks) =
                    live_picks(&store.get(group.reservation_keys[i].bind(py))?, *now, *ttl)
                else {
                    return Ok(None);
                };
                counts[k] = counts[k].saturating_add(picks);
            }
        }
        let Some(k) = least_busy::pick_index(counts.iter().copied()) else {
            return Ok(None);
        };
        if let (Some((selector, tag)), Some(now)) = (reserve, clock_now) {
            let id = group.id_strings[candidates[k]].bind(py);
            let held_picks =
                selector.call_method1(intern!(py, "_live_reservations"), (id, &now))?;
            let mut picks: Vec<Bound<'py, PyAny>> =
                held_picks.try_iter()?.collect::<PyResult<_>>()?;
            picks.push(PyTuple::new(py, [now, tag.clone()])?.into_any());
            selector.call_method1(
                intern!(py, "_store_reservations"),
                (id, PyTuple::new(py, picks)?),
            )?;
            if !tag.is_none() {
                selector.call_method1(intern!(py, "_record_pick"), (tag, id))?;
            }
        }
        drop(held);
        self.served(py, candidates[k], group)
    }

    /// usage-based-routing-v2: of `model`'s deployments not in `cooling`, the ones within
    /// their limits (`tpm + input_tokens <= tpm limit`, `rpm + 1 < rpm limit`) with the lowest
    /// tpm this minute, then `random.choice` among them, as LiteLLM's
    /// `LowestTPMLoggingHandler_v2` picks. Its counters are read from the router cache's
    /// `InMemoryCache` (`cache`) with the cache's own `get_cache` steps, every tpm key
    /// (`{id}:{model}:tpm:{minute}`) first, then every rpm key, as LiteLLM reads them.
    ///
    /// `None` (LiteLLM then picks, or raises its own error) for an unknown group, every
    /// deployment cooling down or over its limits, or a stored counter that is not an `int`
    /// within 2^53 or a finite `float`; the reads made are the ones LiteLLM makes first.
    #[pyo3(signature = (model, cooling, cache, steps, now, input_tokens))]
    #[allow(clippy::too_many_arguments)]
    fn usage_v2<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
        cache: Bound<'py, PyAny>,
        steps: &Bound<'py, InMemoryCacheSteps>,
        now: &Bound<'py, PyAny>,
        input_tokens: f64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        // `get_utc_datetime().strftime("%H-%M")`.
        let minute = hour_minute(now)?;
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        let memory = Memory::new(cache, steps.get());
        let candidates = not_cooling(py, group, cooling)?;
        let keys = {
            let mut cached = group
                .usage_keys
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match cached.as_ref() {
                Some((at, keys)) if *at == minute => keys
                    .iter()
                    .map(|(t, r)| (t.clone_ref(py), r.clone_ref(py)))
                    .collect::<Vec<_>>(),
                _ => {
                    let made: Vec<(Py<PyString>, Py<PyString>)> = (0..group.ids.len())
                        .map(|i| {
                            let (id, model) = (&group.ids[i], &group.models[i]);
                            (
                                PyString::new(py, &keys::v2_tpm(id, model, minute)).unbind(),
                                PyString::new(py, &keys::v2_rpm(id, model, minute)).unbind(),
                            )
                        })
                        .collect();
                    let copy = made
                        .iter()
                        .map(|(t, r)| (t.clone_ref(py), r.clone_ref(py)))
                        .collect();
                    *cached = Some((minute, made));
                    copy
                }
            }
        };
        // Every tpm key first, then every rpm key, as LiteLLM reads them.
        let read = |rpm: bool| -> PyResult<Option<Vec<Option<f64>>>> {
            let mut values = Vec::with_capacity(candidates.len());
            for &i in &candidates {
                let key = if rpm { &keys[i].1 } else { &keys[i].0 };
                match usage(&memory.get(key.bind(py))?) {
                    Ok(value) => values.push(value),
                    Err(()) => return Ok(None),
                }
            }
            Ok(Some(values))
        };
        let Some(tpm) = read(false)? else {
            return Ok(None);
        };
        let Some(rpm) = read(true)? else {
            return Ok(None);
        };
        let entries = candidates.iter().enumerate().map(|(k, &i)| {
            let (tpm_limit, rpm_limit) = group.limits[i];
            let usage = Usage {
                tpm: tpm[k].unwrap_or(0.0),
                rpm: rpm[k],
                tpm_limit,
                rpm_limit,
            };
            Ok::<_, std::convert::Infallible>((i, usage))
        });
        let getrandbits = self.getrandbits.bind(py);
        let mut rng = PythonRandom::new(getrandbits)?;
        let mut potential = Vec::with_capacity(candidates.len());
        let Ok(choice) = usage_v2::select(entries, input_tokens, &mut potential, &mut rng);
        if let Some(error) = rng.error {
            return Err(error);
        }
        match choice {
            Some(i) => self.served(py, i, group),
            None => Ok(None),
        }
    }

    /// latency-based-routing (1.109's `LowestLatencyLoggingHandler._get_available_deployments`,
    /// on Python 3.11's `sum`): the group's `{model}_map` read from the router cache with the
    /// cache's own steps, a `latency_normalized: [0]` entry added for each deployment not in it
    /// yet (in the cached map itself, as LiteLLM adds it), the map's entries drawn into
    /// `random.sample` order, each deployment's average latency (or time to first token on a
    /// stream, or its percentile), the ones within their tpm/rpm this minute sorted by it, and
    /// `random.choice` among those within `buffer` of the lowest. When `metadata` is given,
    /// `metadata["_latency_per_deployment"]` is set as LiteLLM sets it.
    ///
    /// `None` (LiteLLM then picks, or raises) before any draw: an unknown group, every
    /// deployment cooling down or over its limits, or a map or value this path does not read
    /// as LiteLLM does. The entries it added are the ones LiteLLM adds first.
    #[pyo3(signature = (model, cooling, cache, steps, now, input_tokens, stream, buffer, ttft_percentile, metadata))]
    #[allow(clippy::too_many_arguments)]
    fn latency<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
        cache: Bound<'py, PyAny>,
        steps: &Bound<'py, InMemoryCacheSteps>,
        now: &Bound<'py, PyAny>,
        input_tokens: f64,
        stream: bool,
        buffer: f64,
        ttft_percentile: Option<f64>,
        metadata: Option<Bound<'py, PyDict>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        let candidates = not_cooling(py, group, cooling)?;
        // The module's `datetime.now()`.
        let precise_minute = precise_minute(now)?;
        let memory = Memory::new(cache, steps.get());
        let Some(map) = cached_map(&memory, group.latency_key.bind(py))? else {
            return Ok(None);
        };
        for &i in &candidates {
            let id = group.id_strings[i].bind(py);
            if !map.contains(id)? {
                let entry = PyDict::new(py);
                entry.set_item(intern!(py, "latency_normalized"), PyList::new(py, [0])?)?;
                let minute = PyDict::new(py);
                minute.set_item(intern!(py, "tpm"), 0)?;
                minute.set_item(intern!(py, "rpm"), 0)?;
                entry.set_item(&precise_minute, minute)?;
                map.set_item(id, entry)?;
            }
        }
        // Every entry of the map, in its order: the deployment it names (if healthy), its
        // latency as LiteLLM selects it, and whether it is within its limits.
        let by_id: HashMap<&str, usize> = candidates
            .iter()
            .map(|&i| (group.ids[i].as_str(), i))
            .collect();
        struct Item<'py> {
            deployment: Option<(usize, Bound<'py, PyAny>, f64, bool)>,
        }
        let mut items: Vec<Item<'py>> = Vec::with_capacity(map.len());
        let mut any_within = false;
        for (key, item_map) in map.iter() {
            let Ok(found) = named(&key, &by_id)? else {
                return Ok(None);
            };
            let Some(i) = found else {
                items.push(Item { deployment: None });
                continue;
            };
            let Ok(item_map) = item_map.cast_into_exact::<PyDict>() else {
                return Ok(None);
            };
            let list_of = |name: &Bound<'py, PyString>| -> PyResult<Option<Samples<'py>>> {
                Ok(match item_map.get_item(name)? {
                    None => Some(Vec::new()),
                    Some(value) => samples(&value),
                })
            };
            let (Some(latencies), Some(ttfts)) = (
                list_of(intern!(py, "latency_normalized"))?,
                list_of(intern!(py, "time_to_first_token_seconds"))?,
            ) else {
                return Ok(None);
            };
            let Some((rpm, tpm)) = minute_counts(&item_map, &precise_minute)? else {
                return Ok(None);
            };
            let use_ttft = stream && !ttfts.is_empty();
            let (latency, object) = match (use_ttft, ttft_percentile) {
                (true, Some(p)) => {
                    let mut sorted = ttfts;
                    sorted.sort_by(|a, b| python_order(a.0, b.0));
                    let Some(k) = latency::percentile_position(sorted.len(), p) else {
                        return Ok(None);
                    };
                    sorted.swap_remove(k)
                }
                _ => {
                    let chosen = if use_ttft { ttfts } else { latencies };
                    let average = latency::average(chosen.iter().map(|(v, _)| *v)).unwrap_or(0.0);
                    (average, PyFloat::new(py, average).into_any())
                }
            };
            let (tpm_limit, rpm_limit) = group.limits[i];
            let usage = Usage {
                tpm,
                rpm: Some(rpm),
                tpm_limit,
                rpm_limit,
            };
            let within = usage.within_minute_limits(input_tokens);
            any_within |= within;
            items.push(Item {
                deployment: Some((i, object, latency, within)),
            });
        }
        if !any_within {
            return Ok(None);
        }
        // random.sample(list(items), len(items)): the order the entries are walked in.
        let getrandbits = self.getrandbits.bind(py);
        let mut rng = PythonRandom::new(getrandbits)?;
        let order = fastllm_router::litellm::sample(&mut rng, items.len());
        if let Some(error) = rng.error.take() {
            return Err(error);
        }
        let per_deployment = PyDict::new(py);
        let mut potential: Vec<(usize, f64)> = Vec::new();
        for &k in &order {
            let Some((i, object, latency, within)) = &items[k].deployment else {
                continue;
            };
            if metadata.is_some() {
                // `_latency_per_deployment[litellm_params.get("api_base", "")]`, only written
                // into a request that has metadata.
                let deployment = group.deployments[*i].bind(py);
                let api_base = match deployment.get_item("litellm_params").ok() {
                    Some(params) => match params.cast_exact::<PyDict>() {
                        Ok(params) => params
                            .get_item("api_base")?
                            .unwrap_or_else(|| PyString::new(py, "").into_any()),
                        Err(_) => return Ok(None),
                    },
                    None => PyString::new(py, "").into_any(),
                };
                if !api_base.is_none() {
                    per_deployment.set_item(api_base, object)?;
                }
            }
            if *within {
                potential.push((*i, *latency));
            }
        }
        let choice = latency::select(&mut potential, buffer, &mut rng);
        if let Some(error) = rng.error {
            return Err(error);
        }
        if let Some(metadata) = metadata {
            metadata.set_item("_latency_per_deployment", per_deployment)?;
        }
        match choice {
            Some(i) => self.served(py, i, group),
            None => Ok(None),
        }
    }

    /// usage-based-routing (v1, `LowestTPMLoggingHandler.get_available_deployments`): the
    /// group's `{model}:tpm:{HH-MM}` and `{model}:rpm:{HH-MM}` dicts read from the router cache
    /// with the cache's own steps; each deployment not cooling down and missing from the tpm
    /// dict added to it with 0 (in the cached dict itself, as LiteLLM adds it); then, in the
    /// dict's order, the first deployment with the lowest tpm among those within their limits
    /// (`tpm + input_tokens <= tpm limit`, and `rpm + 1 < rpm limit` where rpm was counted).
    ///
    /// `None` (LiteLLM then picks, or raises its own error) for an unknown group, every
    /// deployment cooling down or over its limits, or a stored value this path does not read
    /// as LiteLLM does. The entries it added are the ones LiteLLM adds first.
    #[pyo3(signature = (model, cooling, cache, steps, now, input_tokens))]
    #[allow(clippy::too_many_arguments)]
    fn usage_v1<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
        cache: Bound<'py, PyAny>,
        steps: &Bound<'py, InMemoryCacheSteps>,
        now: &Bound<'py, PyAny>,
        input_tokens: f64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        // `datetime.now().strftime("%H-%M")`.
        let minute = hour_minute(now)?;
        let memory = Memory::new(cache, steps.get());
        let tpm_stored = memory.get(&PyString::new(py, &keys::v1_tpm(model, minute)))?;
        let rpm_stored = memory.get(&PyString::new(py, &keys::v1_rpm(model, minute)))?;
        let rpm_dict = if rpm_stored.is_none() {
            None
        } else if let Ok(dict) = rpm_stored.cast_into_exact::<PyDict>() {
            Some(dict)
        } else {
            return Ok(None);
        };
        let candidates = not_cooling(py, group, cooling)?;
        // `if tpm_dict is None`: a new dict (not stored); else the cached one, added to.
        let tpm_dict = if tpm_stored.is_none() {
            PyDict::new(py)
        } else if let Ok(dict) = tpm_stored.cast_into_exact::<PyDict>() {
            dict
        } else {
            return Ok(None);
        };
        for &i in &candidates {
            let id = group.id_strings[i].bind(py);
            if !tpm_dict.contains(id)? {
                tpm_dict.set_item(id, 0)?;
            }
        }
        let by_id: HashMap<&str, usize> = candidates
            .iter()
            .map(|&i| (group.ids[i].as_str(), i))
            .collect();
        let entry = |key: Bound<'py, PyAny>, item_tpm: Bound<'py, PyAny>| {
            let Some(i) = named(&key, &by_id)?.map_err(|()| Stop::HandBack)? else {
                return Ok(None);
            };
            let (tpm_limit, rpm_limit) = group.limits[i];
            let mut usage = Usage {
                tpm: count(&item_tpm).ok_or(Stop::HandBack)?,
                rpm: None,
                tpm_limit,
                rpm_limit,
            };
            // LiteLLM reads the rpm only of a deployment within its tpm limit.
            if usage.within_limits(input_tokens)
                && let Some(rpm_dict) = &rpm_dict
                && let Some(rpm) = rpm_dict.get_item(key)?
            {
                usage.rpm = Some(count(&rpm).ok_or(Stop::HandBack)?);
            }
            Ok(Some((i, usage)))
        };
        let walk = tpm_dict
            .iter()
            .filter_map(|(key, item_tpm)| entry(key, item_tpm).transpose());
        match chosen(usage_v1::select(walk, input_tokens))? {
            Some(i) => self.served(py, i, group),
            None => Ok(None),
        }
    }

    /// cost-based-routing (`LowestCostLoggingHandler.async_get_available_deployments`): the
    /// group's `cost_map:{model}` read from the router cache with the cache's own steps; each
    /// deployment not cooling down and missing from it added with this minute's zero counts
    /// (in the cached map itself, as LiteLLM adds them); each deployment's price per token
    /// (input plus output): its own `litellm_params` price, else the first cost-map row of its
    /// pricing models that declares one, 5.0 for a price neither gives; then, in the map's
    /// order, the cheapest deployment within its limits this minute (an absent or zero limit
    /// is no limit).
    ///
    /// `None` (LiteLLM then picks, or raises its own error) for an unknown group, every
    /// deployment cooling down or over its limits, or a stored value or cost-map row this path
    /// does not read as LiteLLM does. The entries it added are the ones LiteLLM adds first.
    #[pyo3(signature = (model, cooling, cache, steps, now, input_tokens, model_cost))]
    #[allow(clippy::too_many_arguments)]
    fn cost<'py>(
        &self,
        py: Python<'py>,
        model: &str,
        cooling: Option<&Bound<'py, PyAny>>,
        cache: Bound<'py, PyAny>,
        steps: &Bound<'py, InMemoryCacheSteps>,
        now: &Bound<'py, PyAny>,
        input_tokens: f64,
        model_cost: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(group) = self.groups.get(model) else {
            return Ok(None);
        };
        let Ok(model_cost) = model_cost.cast_exact::<PyDict>() else {
            return Ok(None);
        };
        let memory = Memory::new(cache, steps.get());
        // `await async_get_cache(...) or {}`.
        let Some(map) = cached_map(&memory, group.cost_key.bind(py))? else {
            return Ok(None);
        };
        // The module's `datetime.now()`.
        let precise_minute = precise_minute(now)?;
        let candidates = not_cooling(py, group, cooling)?;
        for &i in &candidates {
            let id = group.id_strings[i].bind(py);
            if !map.contains(id)? {
                let minute = PyDict::new(py);
                minute.set_item(intern!(py, "tpm"), 0)?;
                minute.set_item(intern!(py, "rpm"), 0)?;
                let entry = PyDict::new(py);
                entry.set_item(&precise_minute, minute)?;
                map.set_item(id, entry)?;
            }
        }
        let by_id: HashMap<&str, usize> = candidates
            .iter()
            .map(|&i| (group.ids[i].as_str(), i))
            .collect();
        let entry = |key: Bound<'py, PyAny>, item_map: Bound<'py, PyAny>| {
            let Some(i) = named(&key, &by_id)?.map_err(|()| Stop::HandBack)? else {
                return Ok(None);
            };
            let item_cost = self
                .price(py, model_cost, &group.pricing[i])?
                .ok_or(Stop::HandBack)?;
            let item_map = item_map
                .cast_into_exact::<PyDict>()
                .map_err(|_| Stop::HandBack)?;
            let (rpm, tpm) = minute_counts(&item_map, &precise_minute)?.ok_or(Stop::HandBack)?;
            let (tpm_limit, rpm_limit) = group.limits[i];
            let usage = Usage {
                tpm,
                rpm: Some(rpm),
                tpm_limit,
                rpm_limit,
            };
            Ok(Some((i, item_cost, usage)))
        };
        let walk = map
            .iter()
            .filter_map(|(key, item_map)| entry(key, item_map).transpose());
        match chosen(cost::select(walk, input_tokens))? {
            Some(i) => self.served(py, i, group),
            None => Ok(None),
        }
    }

    /// Whether any deployment of `model` has a tpm limit (only then does usage-based-v2's
    /// prompt token count change a pick).
    fn has_tpm_limits(&self, model: &str) -> bool {
        self.groups
            .get(model)
            .is_some_and(|g| g.limits.iter().any(|(tpm, _)| tpm.is_some()))
    }

    /// The ids of `model`'s deployments, in LiteLLM's order (empty for an unknown group).
    fn ids<'py>(&self, py: Python<'py>, model: &str) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.groups.get(model).map_or(&[][..], |g| &g.ids[..]))
    }
}
