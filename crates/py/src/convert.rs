//! Python objects → JSON values, exactly where LiteLLM's reading of them is reproduced.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Number, Value};

/// Why an object was not converted (it goes to LiteLLM's own function instead).
pub(crate) type Unsupported = String;

const MAX_DEPTH: usize = 64;

/// Converts `obj`; `Err` for any object whose reading by LiteLLM this crate does not model
/// (tuples, pydantic models, non-`str` keys, strings with lone surrogates, big ints, ...).
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> Result<Value, Unsupported> {
    convert(obj, 0)
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Unsupported> {
    if depth > MAX_DEPTH {
        return Err("nesting deeper than 64 levels".to_owned());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(py_str(s)?));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            let key = key
                .cast::<PyString>()
                .map_err(|_| "a dict with a non-str key".to_owned())
                .and_then(|k| py_str(k))?;
            map.insert(key, convert(&value, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| convert(&item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        return Err("an int outside the 64-bit range".to_owned());
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| "a NaN or infinite float".to_owned());
    }
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(format!("an object of type {name}"))
}

/// The text of a Python `str` (or subclass); `Err` for lone surrogates.
pub(crate) fn py_str(s: &Bound<'_, PyString>) -> Result<String, Unsupported> {
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| "a str with lone surrogates".to_owned())
}
