//! Bindings of `fastllm-tokencount`: a counter per resolved model, and call statistics.

use fastllm_tokencount::{ChatCounter, ChatRequest, Counter as TextCounter, Encoding, ImageConfig};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rayon::prelude::*;
use serde_json::Value;

use crate::convert::{Unsupported, py_str, to_value};
use crate::errors::{IntoPyErr, type_error};
use fastllm_py_litellm::Stats;

/// Texts longer than this are counted with the GIL released.
const DETACH_MIN_BYTES: usize = 64 * 1024;

/// A LiteLLM-exact counter for one encoding and one message accounting.
#[pyclass(frozen, module = "fastllm_litellm._native")]
pub struct Counter {
    chat: ChatCounter,
    stats: Option<Py<Stats>>,
}

fn image_config(image: Option<&Bound<'_, PyDict>>) -> PyResult<ImageConfig> {
    let mut config = ImageConfig::default();
    let Some(image) = image else {
        return Ok(config);
    };
    for (key, value) in image.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "DEFAULT_IMAGE_TOKEN_COUNT" => config.default_image_token_count = value.extract()?,
            "DEFAULT_IMAGE_WIDTH" => config.default_image_width = value.extract()?,
            "DEFAULT_IMAGE_HEIGHT" => config.default_image_height = value.extract()?,
            "MAX_IMAGE_URL_DOWNLOAD_SIZE_MB" => {
                config.max_image_url_download_size_mb = value.extract()?
            }
            "MAX_SHORT_SIDE_FOR_IMAGE_HIGH_RES" => config.max_short_side = value.extract()?,
            "MAX_LONG_SIDE_FOR_IMAGE_HIGH_RES" => config.max_long_side = value.extract()?,
            "MAX_TILE_WIDTH" => config.tile_width = value.extract()?,
            "MAX_TILE_HEIGHT" => config.tile_height = value.extract()?,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown image setting {other:?}"
                )));
            }
        }
    }
    if config.tile_width <= 0 || config.tile_height <= 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "MAX_TILE_WIDTH and MAX_TILE_HEIGHT must be positive",
        ));
    }
    Ok(config)
}

impl Counter {
    fn finish(&self, py: Python<'_>, result: Result<i64, Unsupported>) -> Option<i64> {
        if let Some(stats) = &self.stats {
            stats
                .bind(py)
                .get()
                .record(result.as_ref().err().map(String::as_str));
        }
        result.ok()
    }

    fn text_counter(&self) -> &TextCounter {
        self.chat.counter()
    }

    fn count_str(&self, py: Python<'_>, text: &str) -> Result<i64, Unsupported> {
        let counter = *self.text_counter();
        let result = if text.len() >= DETACH_MIN_BYTES {
            py.detach(|| counter.try_count(text))
        } else {
            counter.try_count(text)
        };
        result.map(|n| n as i64).map_err(|e| e.to_string())
    }

    fn litellm_text(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> Result<i64, Unsupported> {
        if let Ok(s) = text.cast::<PyString>() {
            let s = s
                .to_str()
                .map_err(|_| "a str with lone surrogates".to_owned())?;
            return self.count_str(py, s);
        }
        if let Ok(list) = text.cast::<PyList>() {
            let mut joined = String::new();
            for item in list.iter() {
                if let Ok(s) = item.cast::<PyString>() {
                    joined.push_str(&py_str(s)?);
                }
            }
            return self.count_str(py, &joined);
        }
        Err("text that is neither a str nor a list".to_owned())
    }

    fn messages(
        &self,
        messages: &Bound<'_, PyAny>,
        tools: Option<&Bound<'_, PyAny>>,
        tool_choice: Option<&Bound<'_, PyAny>>,
        count_response_tokens: bool,
        use_default_image_token_count: bool,
    ) -> Result<i64, Unsupported> {
        let items: Vec<Bound<'_, PyAny>> = if let Ok(list) = messages.cast::<PyList>() {
            list.iter().collect()
        } else if let Ok(tuple) = messages.cast::<PyTuple>() {
            tuple.iter().collect()
        } else {
            return Err("messages that are neither a list nor a tuple".to_owned());
        };
        let mut values = Vec::with_capacity(items.len());
        for item in &items {
            if item.cast::<PyDict>().is_err() {
                return Err("a message that is not a dict".to_owned());
            }
            values.push(to_value(item)?);
        }
        let tools = match tools {
            None => None,
            Some(t) if t.is_none() => None,
            Some(t) => match to_value(t)? {
                Value::Array(items) => Some(items),
                _ => return Err("tools that are not a list".to_owned()),
            },
        };
        let tool_choice = match tool_choice {
            Some(c) if !c.is_none() => Some(to_value(c)?),
            _ => None,
        };
        let request = ChatRequest {
            messages: &values,
            tools: tools.as_deref(),
            tool_choice: tool_choice.as_ref(),
            count_response_tokens,
            use_default_image_token_count,
        };
        self.chat.count(&request).map_err(|e| e.to_string())
    }
}

#[pymethods]
impl Counter {
    #[new]
    #[pyo3(signature = (encoding, *, legacy=false, chunk_chars=1024, max_exact_chars=4_000_000, image=None, stats=None))]
    fn py_new(
        encoding: &str,
        legacy: bool,
        chunk_chars: usize,
        max_exact_chars: usize,
        image: Option<&Bound<'_, PyDict>>,
        stats: Option<Py<Stats>>,
    ) -> PyResult<Self> {
        let encoding = Encoding::from_name(encoding).map_err(IntoPyErr::into_py_err)?;
        let counter = TextCounter::new(encoding)
            .with_chunk_chars(chunk_chars)
            .and_then(|c| c.with_max_exact_chars(max_exact_chars))
            .map_err(IntoPyErr::into_py_err)?;
        let chat = ChatCounter::new(counter)
            .with_legacy_accounting(legacy)
            .with_image_config(image_config(image)?);
        Ok(Self { chat, stats })
    }

    /// The tiktoken encoding name.
    #[getter]
    fn encoding(&self) -> &'static str {
        self.text_counter().encoding().name()
    }

    /// LiteLLM's count of one `str` (chunked, like `token_counter(text=...)`).
    fn count(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<i64> {
        let s = text
            .cast::<PyString>()
            .map_err(|_| type_error("text", "str", text))?;
        let s = s.to_str()?;
        self.count_str(py, s)
            .map_err(pyo3::exceptions::PyValueError::new_err)
    }

    /// `token_counter(text=text)` where `text` is a `str` or a list (non-`str` items are
    /// skipped); `None` when LiteLLM's own function must answer (the fallback is recorded).
    fn count_litellm_text(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> Option<i64> {
        let result = self.litellm_text(py, text);
        self.finish(py, result)
    }

    /// `token_counter(messages=...)`; `None` when LiteLLM's own function must answer (the
    /// fallback is recorded).
    #[pyo3(signature = (messages, tools=None, tool_choice=None, count_response_tokens=false, use_default_image_token_count=false))]
    fn count_messages(
        &self,
        py: Python<'_>,
        messages: &Bound<'_, PyAny>,
        tools: Option<&Bound<'_, PyAny>>,
        tool_choice: Option<&Bound<'_, PyAny>>,
        count_response_tokens: bool,
        use_default_image_token_count: bool,
    ) -> Option<i64> {
        let result = self.messages(
            messages,
            tools,
            tool_choice,
            count_response_tokens,
            use_default_image_token_count,
        );
        self.finish(py, result)
    }

    /// LiteLLM's count of each `str` in `texts`, in parallel with the GIL released.
    fn count_batch(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
        let list = texts
            .cast::<PyList>()
            .map_err(|_| type_error("texts", "a list of str", texts))?;
        let items: Vec<Bound<'_, PyAny>> = list.iter().collect();
        let mut texts = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let s = item
                .cast::<PyString>()
                .map_err(|_| type_error(&format!("texts[{i}]"), "str", item))?;
            texts.push(s.to_str()?);
        }
        let counter = *self.text_counter();
        py.detach(|| {
            texts
                .par_iter()
                .with_min_len(64)
                .map(|t| counter.try_count(t).map(|n| n as i64))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(IntoPyErr::into_py_err)
    }

    fn __repr__(&self) -> String {
        format!("Counter(encoding={:?})", self.encoding())
    }
}
