//! Why a native path hands a call back to LiteLLM's own function.

/// The reason a native path hands a call back to LiteLLM (counted as a fallback in
/// `fastllm_litellm.status()`); `Err(Handback)` is the "LiteLLM decides" outcome.
pub(crate) type Handback = &'static str;
