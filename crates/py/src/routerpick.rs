//! The router's simple-shuffle pick, in one native call: the group's deployments, the ones
//! cooling down left out, then `fastllm_router`'s port of LiteLLM's `simple_shuffle`, drawn
//! from Python's own `random` module so the global random state moves exactly as LiteLLM's
//! `random.choices` / `random.choice` would move it.
//!
//! The patch layer builds one picker per router and configuration (the deployments, their
//! `weight`/`rpm`/`tpm` as LiteLLM's `_metric_weight` reads them) and only for routers whose
//! configuration adds no filter of its own; everything else stays LiteLLM's.

use std::collections::HashMap;

use fastllm_router::RouterRng;
use fastllm_router::strategy::simple_shuffle::pick_index;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySequence, PyString};

/// Python's `random` module instance as a [`RouterRng`]: every 32-bit word is
/// `getrandbits(32)`, which is one `genrand_uint32` of CPython's Mersenne Twister, so
/// `random()`, `_randbelow` and `choices` built on it draw what CPython's do.
struct PythonRandom<'a, 'py> {
    getrandbits: &'a Bound<'py, PyAny>,
    error: Option<PyErr>,
}

impl RouterRng for PythonRandom<'_, '_> {
    fn next_u32(&mut self) -> u32 {
        if self.error.is_some() {
            return 0;
        }
        match self
            .getrandbits
            .call1((32,))
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

/// One model group: its deployments in LiteLLM's order, their ids, and one weight per
/// deployment for each of `weight`, `rpm`, `tpm` (absent as 0.0).
struct Group {
    ids: Vec<String>,
    deployments: Vec<Py<PyAny>>,
    weights: [Vec<f64>; 3],
}

/// A router's simple-shuffle picks (see the module docs).
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct ShufflePicker {
    groups: HashMap<String, Group>,
    getrandbits: Py<PyAny>,
    copy: bool,
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

#[pymethods]
impl ShufflePicker {
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
                ids: Vec::with_capacity(len),
                deployments: Vec::with_capacity(len),
                weights: [
                    Vec::with_capacity(len),
                    Vec::with_capacity(len),
                    Vec::with_capacity(len),
                ],
            };
            for member in members.try_iter()? {
                let (id, deployment, weight, rpm, tpm): (String, Py<PyAny>, f64, f64, f64) =
                    member?.extract()?;
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
        let mut rng = PythonRandom {
            getrandbits,
            error: None,
        };
        let mut buf = Vec::with_capacity(group.ids.len());
        let chosen = match cooling {
            None => pick_index(
                group.ids.len(),
                group.weights.iter().map(Vec::as_slice),
                &mut buf,
                &mut rng,
            ),
            Some(cooling) => {
                let mut keep = Vec::with_capacity(group.ids.len());
                for (i, id) in group.ids.iter().enumerate() {
                    if !cooling.contains(PyString::new(py, id))? {
                        keep.push(i);
                    }
                }
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
        let deployment = group.deployments[i].bind(py);
        if self.copy {
            fresh(deployment).map(Some)
        } else {
            Ok(Some(deployment.clone()))
        }
    }

    /// The ids of `model`'s deployments, in LiteLLM's order (empty for an unknown group).
    fn ids<'py>(&self, py: Python<'py>, model: &str) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.groups.get(model).map_or(&[][..], |g| &g.ids[..]))
    }
}
