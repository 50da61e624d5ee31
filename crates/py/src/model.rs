//! Bindings of `fastllm_tokencount`'s model rules: which tokenizer, encoding and message
//! accounting LiteLLM uses for a model name.

use pyo3::prelude::*;

/// The tiktoken encoding name LiteLLM's `openai_tokenizer_encoding_name(model)` returns.
#[pyfunction]
pub fn tiktoken_encoding_for_model(model: &str) -> &'static str {
    fastllm_tokencount::litellm::encoding_name_for_model(model)
}

/// LiteLLM's `uses_legacy_message_accounting(model)`.
#[pyfunction]
pub fn uses_legacy_message_accounting(model: &str) -> bool {
    fastllm_tokencount::litellm::uses_legacy_message_accounting(model)
}

/// LiteLLM's `litellm.utils.huggingface_tokenizer_kind(model)`.
#[pyfunction]
pub fn huggingface_tokenizer_kind(model: &str) -> Option<&'static str> {
    fastllm_tokencount::litellm::huggingface_tokenizer_kind(model).map(|kind| kind.name())
}

/// Whether LiteLLM's `chat_template_tool_section(model)` is not `None`.
#[pyfunction]
pub fn has_chat_template_tool_section(model: &str) -> bool {
    fastllm_tokencount::litellm::has_chat_template_tool_section(model)
}
