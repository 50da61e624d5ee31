//! The `fastllm_litellm._native` extension: thin PyO3 glue over the fastllm crates.
//!
//! The rules live in the crates. The LiteLLM adapters, which gather a call's inputs from
//! LiteLLM's Python objects, call the crate function that decides, and write back what LiteLLM
//! writes, are the `fastllm-py-litellm` crate (crates/py-litellm); this module registers their
//! classes. The files here are the classes over the subsystem crates: they convert arguments,
//! release the GIL around heavy work, and map errors to Python exceptions. The LiteLLM patch
//! layer is the pure Python package `fastllm_litellm` around it.

mod convert;
mod errors;
mod model;
mod ratelimit;
mod tokencount;

use fastllm_py_litellm as litellm;
use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let base = m.py().get_type::<errors::FastLLMError>();
    base.setattr("__module__", "fastllm_litellm")?;
    m.add("FastLLMError", base)?;
    m.add_class::<tokencount::Counter>()?;
    m.add_class::<litellm::Stats>()?;
    m.add_class::<ratelimit::RateLimiter>()?;
    m.add_class::<ratelimit::RedisRateLimiter>()?;
    m.add_class::<litellm::LocalRateLimits>()?;
    m.add_class::<litellm::Ready>()?;
    m.add_class::<litellm::V3Checks>()?;
    m.add_class::<litellm::ModelRateLimitChecks>()?;
    m.add_class::<litellm::UsageV2Checks>()?;
    m.add_class::<litellm::GroupPicker>()?;
    m.add_class::<litellm::V3DualCacheChecks>()?;
    m.add_class::<litellm::InMemoryCacheSteps>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(model::tiktoken_encoding_for_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::uses_legacy_message_accounting, m)?)?;
    m.add_function(wrap_pyfunction!(model::huggingface_tokenizer_kind, m)?)?;
    m.add_function(wrap_pyfunction!(model::has_chat_template_tool_section, m)?)?;
    m.add(
        "MODEL_DATA_LITELLM_VERSION",
        fastllm_tokencount::litellm::MODEL_DATA_LITELLM_VERSION,
    )?;
    Ok(())
}
