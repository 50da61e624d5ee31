//! The `fastllm_litellm._native` extension: thin PyO3 glue over the fastllm crates.
//!
//! The rules live in the crates. The adapters under `litellm/` gather a call's inputs from
//! LiteLLM's Python objects, call the crate function that decides, and write back what LiteLLM
//! writes; the rest converts arguments, releases the GIL around heavy work, and maps errors to
//! Python exceptions. The LiteLLM patch layer is the pure Python package `fastllm_litellm`
//! around it.

mod awaitable;
mod clock;
mod convert;
mod errors;
mod handback;
mod litellm;
mod model;
mod ratelimit;
mod stats;
mod tokencount;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let base = m.py().get_type::<errors::FastLLMError>();
    base.setattr("__module__", "fastllm_litellm")?;
    m.add("FastLLMError", base)?;
    m.add_class::<tokencount::Counter>()?;
    m.add_class::<stats::Stats>()?;
    m.add_class::<ratelimit::RateLimiter>()?;
    m.add_class::<ratelimit::RedisRateLimiter>()?;
    m.add_class::<litellm::keyspace::LocalRateLimits>()?;
    m.add_class::<awaitable::Ready>()?;
    m.add_class::<litellm::keyspace::V3Checks>()?;
    m.add_class::<litellm::router_check::ModelRateLimitChecks>()?;
    m.add_class::<litellm::router_check::UsageV2Checks>()?;
    m.add_class::<litellm::router_pick::GroupPicker>()?;
    m.add_class::<litellm::v3dual::V3DualCacheChecks>()?;
    m.add_class::<litellm::cache_steps::InMemoryCacheSteps>()?;
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
