//! LiteLLM's choice of tokenizer and message accounting for a model name.
//!
//! Everything in this module is LiteLLM-specific: a Rust user who knows the encoding starts
//! from [`Tokenizer`](crate::Tokenizer), [`Counter`](crate::Counter) and
//! [`ChatCounter`](crate::ChatCounter) instead.
//!
//! `token_counter(model=...)` picks how to count from the model name alone: a HuggingFace
//! tokenizer for a few model families, otherwise tiktoken with an encoding resolved through
//! LiteLLM's model registry and tiktoken's model tables, and `gpt-3.5-turbo-0301`'s message
//! accounting for that one model. This module reproduces those rules function by function
//! (the Python names are given on each private helper) over a copy of the registry facts they
//! read, generated from LiteLLM's bundled registry by `scripts/gen_model_data.py` (the
//! LiteLLM release is [`MODEL_DATA_LITELLM_VERSION`]).
//!
//! Answers are LiteLLM's for its bundled registry (`LITELLM_LOCAL_MODEL_COST_MAP=True`). A
//! LiteLLM that loaded a newer registry at run time, or registered models of its own, can
//! answer differently for the models that changed. Regular expressions follow Python's `re`
//! exactly, including `$` matching before a final newline, `re.IGNORECASE`'s Unicode case
//! equivalences (`ſ` for `s`, the Kelvin sign for `k`) and `\d` as the decimal digits of the
//! generating Python's Unicode database.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::chat::ChatCounter;
use crate::counter::Counter;
use crate::encoding::Encoding;
use crate::error::{Result, unsupported};
mod model_data;

use model_data::{
    ANTHROPIC_MODELS, AZURE_LLMS, COHERE_MODELS, LITELLM_VERSION, MODEL_COST,
    OPEN_AI_CHAT_COMPLETION_MODELS, OPENAI_CHAT_MODES, PYTHON_DECIMAL_DIGITS, TEXT_MODEL_MODES,
    TIKTOKEN_MODEL_PREFIX_TO_ENCODING, TIKTOKEN_MODEL_TO_ENCODING,
};

/// The LiteLLM release whose bundled model registry the model rules of this crate were
/// generated from, such as `"1.110.2"`.
///
/// # Examples
///
/// ```
/// assert!(!fastllm_tokencount::litellm::MODEL_DATA_LITELLM_VERSION.is_empty());
/// ```
pub const MODEL_DATA_LITELLM_VERSION: &str = LITELLM_VERSION;

/// A HuggingFace tokenizer LiteLLM selects by model name instead of tiktoken.
///
/// This crate does not ship these tokenizers; it only reports which one LiteLLM uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HuggingFaceKind {
    /// Cohere's Command R tokenizer (`Xenova/c4ai-command-r-v01-tokenizer`).
    Cohere,
    /// Anthropic's tokenizer, bundled with LiteLLM (Claude models other than Claude 3).
    Anthropic,
    /// DeepSeek's tokenizer, bundled with LiteLLM (DeepSeek V3/V4, chat and reasoner).
    Deepseek,
    /// The Llama 2 tokenizer (`hf-internal-testing/llama-tokenizer`), also used for every
    /// model name containing `replicate`.
    Llama2,
    /// The Llama 3 tokenizer (`Xenova/llama-3-tokenizer`).
    Llama3,
}

impl HuggingFaceKind {
    /// LiteLLM's name of the kind (its `HuggingFaceTokenizerKind`), such as `"deepseek"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_tokencount::litellm::HuggingFaceKind;
    ///
    /// assert_eq!(HuggingFaceKind::Llama3.name(), "llama3");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HuggingFaceKind::Cohere => "cohere",
            HuggingFaceKind::Anthropic => "anthropic",
            HuggingFaceKind::Deepseek => "deepseek",
            HuggingFaceKind::Llama2 => "llama2",
            HuggingFaceKind::Llama3 => "llama3",
        }
    }

    /// Whether LiteLLM ships this tokenizer, so it uses it even in offline mode
    /// (`LITELLM_OFFLINE_MODE`); the others are downloaded, and offline LiteLLM counts those
    /// models with tiktoken instead.
    pub fn is_bundled(self) -> bool {
        matches!(self, HuggingFaceKind::Anthropic | HuggingFaceKind::Deepseek)
    }
}

/// How LiteLLM's `token_counter` counts for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelTokenizer {
    /// tiktoken with `encoding`; `legacy_accounting` selects `gpt-3.5-turbo-0301`'s message
    /// accounting (4 tokens per message, -1 per name) over the current one (3 and 1).
    Tiktoken {
        /// The encoding LiteLLM counts with.
        encoding: Encoding,
        /// Whether messages use the `gpt-3.5-turbo-0301` accounting.
        legacy_accounting: bool,
    },
    /// A HuggingFace tokenizer.
    HuggingFace(HuggingFaceKind),
}

/// The tokenizer LiteLLM's `token_counter(model=model)` selects, with LiteLLM's defaults
/// (`litellm.disable_hf_tokenizer_download = False`, no custom tokenizer).
///
/// A model with a [`HuggingFaceKind`] gets that tokenizer; everything else gets tiktoken with
/// [`encoding_for_model`] and [`uses_legacy_message_accounting`]. LiteLLM in offline mode
/// counts the kinds it does not bundle ([`HuggingFaceKind::is_bundled`]) with tiktoken
/// instead; this function reports the kind regardless.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::Encoding;
/// use fastllm_tokencount::litellm::{HuggingFaceKind, ModelTokenizer, tokenizer_for_model};
///
/// assert_eq!(
///     tokenizer_for_model("gpt-4o"),
///     ModelTokenizer::Tiktoken { encoding: Encoding::O200kBase, legacy_accounting: false },
/// );
/// assert_eq!(
///     tokenizer_for_model("deepseek/deepseek-chat"),
///     ModelTokenizer::HuggingFace(HuggingFaceKind::Deepseek),
/// );
/// ```
pub fn tokenizer_for_model(model: &str) -> ModelTokenizer {
    match huggingface_tokenizer_kind(model) {
        Some(kind) => ModelTokenizer::HuggingFace(kind),
        None => ModelTokenizer::Tiktoken {
            encoding: encoding_for_model(model),
            legacy_accounting: uses_legacy_message_accounting(model),
        },
    }
}

/// The HuggingFace tokenizer LiteLLM selects for `model`, or `None` for tiktoken: LiteLLM's
/// `litellm.utils.huggingface_tokenizer_kind`.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::litellm::{HuggingFaceKind, huggingface_tokenizer_kind};
///
/// assert_eq!(huggingface_tokenizer_kind("llama-3-70b"), Some(HuggingFaceKind::Llama3));
/// assert_eq!(huggingface_tokenizer_kind("gpt-4o"), None);
/// ```
pub fn huggingface_tokenizer_kind(model: &str) -> Option<HuggingFaceKind> {
    if contains(COHERE_MODELS, model) && model.contains("command-r") {
        return Some(HuggingFaceKind::Cohere);
    }
    // `uses_anthropic_tokenizer`.
    if contains(ANTHROPIC_MODELS, model) && !model.contains("claude-3") {
        return Some(HuggingFaceKind::Anthropic);
    }
    if DEEPSEEK_TOKENIZER_MODEL.is_match(model) {
        return Some(HuggingFaceKind::Deepseek);
    }
    // Python's `str.lower()`. Only ASCII letters and `İ` (to `i` + U+0307, which cannot be
    // followed by `c`) lower-case into these ASCII needles, in either Unicode version.
    let lower = model.to_lowercase();
    if lower.contains("llama-2") || lower.contains("replicate") {
        return Some(HuggingFaceKind::Llama2);
    }
    if lower.contains("llama-3") {
        return Some(HuggingFaceKind::Llama3);
    }
    None
}

/// The tiktoken encoding LiteLLM counts `model` with when it counts with tiktoken: LiteLLM's
/// `openai_tokenizer_encoding_name`.
///
/// Provider and region prefixes are dropped for names LiteLLM lists as OpenAI or Azure
/// models; listed names tiktoken does not know get `o200k_base` (or `cl100k_base` for
/// non-chat models such as embeddings and image models); names tiktoken maps to `o200k_base`
/// and names shaped like a newer OpenAI release (`gpt-6.2`, `o7-mini`) get `o200k_base`;
/// every other name is counted as `gpt-3.5-turbo` (`cl100k_base`). tiktoken's `gpt2` encoding, which has the same tokens as
/// `r50k_base`, is reported as [`Encoding::R50kBase`]; [`encoding_name_for_model`] gives
/// LiteLLM's exact name.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::Encoding;
/// use fastllm_tokencount::litellm::encoding_for_model;
///
/// assert_eq!(encoding_for_model("azure/eu/gpt-4o"), Encoding::O200kBase);
/// assert_eq!(encoding_for_model("openai/gpt-6.2"), Encoding::O200kBase);
/// assert_eq!(encoding_for_model("gpt-4"), Encoding::Cl100kBase);
/// assert_eq!(encoding_for_model("claude-3-5-sonnet"), Encoding::Cl100kBase);
/// ```
pub fn encoding_for_model(model: &str) -> Encoding {
    encoding_from_tiktoken_name(encoding_name_for_model(model))
}

/// The tiktoken name of the encoding LiteLLM counts `model` with, exactly as LiteLLM's
/// `openai_tokenizer_encoding_name` returns it (`"o200k_base"`, `"cl100k_base"`, ...).
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::litellm::encoding_name_for_model;
///
/// assert_eq!(encoding_name_for_model("ft:gpt-4o:my-org::abc123"), "o200k_base");
/// assert_eq!(encoding_name_for_model("mistral/mistral-large"), "cl100k_base");
/// ```
pub fn encoding_name_for_model(model: &str) -> &'static str {
    let model_to_use: Cow<'_, str> = match truthy(openai_model_name(model)) {
        Some(name) => Cow::Borrowed(name),
        None => fix_model_name(model),
    };
    if model_to_use.contains("gpt-4o") {
        return "o200k_base";
    }
    tiktoken_encoding_name(&model_to_use)
        .or_else(|| suffixed_variant_encoding_name(&model_to_use))
        .unwrap_or(if is_listed_non_chat_model(&model_to_use) {
            "cl100k_base"
        } else {
            "o200k_base"
        })
}

/// Whether LiteLLM counts the messages of `model` with `gpt-3.5-turbo-0301`'s accounting
/// (4 tokens per message, -1 per name): LiteLLM's `uses_legacy_message_accounting`.
///
/// That needs the name to be listed as that model, which LiteLLM's current registry no longer
/// does, so this is false for every name with the bundled data of recent LiteLLM releases.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::litellm::uses_legacy_message_accounting;
///
/// assert!(!uses_legacy_message_accounting("gpt-4o"));
/// ```
pub fn uses_legacy_message_accounting(model: &str) -> bool {
    fix_model_name(model) == "gpt-3.5-turbo-0301"
}

/// Whether LiteLLM counts tools for `model` by rendering them the way the model's chat
/// template does (DeepSeek V4/chat/reasoner, Qwen 3.5, Grok 4.1/4.3): whether its
/// `chat_template_tool_section(model)` is not `None`.
///
/// [`ChatCounter`] does not reproduce that rendering.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::litellm::has_chat_template_tool_section;
///
/// assert!(has_chat_template_tool_section("together_ai/Qwen/Qwen3.5-397B-A17B"));
/// assert!(has_chat_template_tool_section("xai/grok-4-1-fast"));
/// assert!(!has_chat_template_tool_section("gpt-4o"));
/// ```
pub fn has_chat_template_tool_section(model: &str) -> bool {
    !model.is_empty() && CHAT_TEMPLATE_TOOL_SECTION.is_match(model)
}

/// A [`ChatCounter`] that counts chat requests for `model` as LiteLLM's `token_counter` does:
/// tiktoken with [`encoding_for_model`] and [`uses_legacy_message_accounting`].
///
/// # Errors
///
/// [`Error::Unsupported`](crate::Error::Unsupported) when LiteLLM counts `model` with a
/// HuggingFace tokenizer ([`huggingface_tokenizer_kind`]) or renders its tools with a chat
/// template ([`has_chat_template_tool_section`]); this crate reproduces neither.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::ChatRequest;
/// use fastllm_tokencount::litellm::chat_counter_for_model;
/// use serde_json::json;
///
/// let chat = chat_counter_for_model("openai/gpt-4o")?;
/// let messages = [
///     json!({"role": "system", "content": "You are a helpful assistant."}),
///     json!({"role": "user", "content": "What is the capital of France?"}),
/// ];
/// assert_eq!(chat.count(&ChatRequest::new(&messages))?, 24);
/// assert!(chat_counter_for_model("claude-sonnet-4-5").is_err());
/// # Ok::<(), fastllm_tokencount::Error>(())
/// ```
pub fn chat_counter_for_model(model: &str) -> Result<ChatCounter> {
    if let Some(kind) = huggingface_tokenizer_kind(model) {
        return unsupported(format!(
            "model {model:?} is counted with the {} HuggingFace tokenizer",
            kind.name()
        ));
    }
    if has_chat_template_tool_section(model) {
        return unsupported(format!(
            "model {model:?} renders tools with its chat template"
        ));
    }
    Ok(ChatCounter::new(Counter::new(encoding_for_model(model)))
        .with_legacy_accounting(uses_legacy_message_accounting(model)))
}

/// The [`Encoding`] of a tiktoken encoding name from the generated tables. tiktoken's `gpt2`
/// has the same ranks, split pattern and special token as `r50k_base`.
fn encoding_from_tiktoken_name(name: &str) -> Encoding {
    match name {
        "gpt2" => Encoding::R50kBase,
        other => Encoding::from_name(other).unwrap_or(Encoding::Cl100kBase),
    }
}

/// Python's `x or y` on a `str | None`: the empty string is false.
fn truthy(name: Option<&str>) -> Option<&str> {
    name.filter(|name| !name.is_empty())
}

fn contains(sorted: &[&str], name: &str) -> bool {
    sorted.binary_search(&name).is_ok()
}

/// The longest name in `MODEL_COST`, `AZURE_LLMS` and `OPEN_AI_CHAT_COMPLETION_MODELS`;
/// longer names are in none of them.
static MAX_NAME_LEN: LazyLock<usize> = LazyLock::new(|| {
    MODEL_COST
        .iter()
        .map(|entry| entry.0)
        .chain(AZURE_LLMS.iter().copied())
        .chain(OPEN_AI_CHAT_COMPLETION_MODELS.iter().copied())
        .map(str::len)
        .max()
        .unwrap_or(0)
});

/// One `litellm.model_cost` entry: `(provider, mode, azure_pdf)`.
type CostEntry = (Option<&'static str>, Option<&'static str>, bool);

/// `litellm.model_cost.get(prefix + name)`, without building long strings for names that
/// cannot be keys.
fn cost_entry(prefix: &str, name: &str) -> Option<CostEntry> {
    if prefix.len() + name.len() > *MAX_NAME_LEN {
        return None;
    }
    let key: Cow<'_, str> = if prefix.is_empty() {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{prefix}{name}"))
    };
    MODEL_COST
        .binary_search_by(|entry| entry.0.cmp(&key))
        .ok()
        .and_then(|index| MODEL_COST.get(index))
        .map(|&(_, provider, mode, pdf)| (provider, mode, pdf))
}

fn is_chat_mode(mode: Option<&str>) -> bool {
    mode.is_some_and(|mode| contains(OPENAI_CHAT_MODES, mode))
}

/// `name.rsplit("/", 1)[-1]`.
fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `tiktoken.encoding_name_for_model`, `None` for its `KeyError` (`_tiktoken_encoding_name`).
fn tiktoken_encoding_name(model: &str) -> Option<&'static str> {
    if let Ok(index) = TIKTOKEN_MODEL_TO_ENCODING.binary_search_by(|entry| entry.0.cmp(model)) {
        return TIKTOKEN_MODEL_TO_ENCODING
            .get(index)
            .map(|&(_, encoding)| encoding);
    }
    TIKTOKEN_MODEL_PREFIX_TO_ENCODING
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map(|&(_, encoding)| encoding)
}

/// `_suffixed_variant_encoding_name`: the encoding of the longest tiktoken model name that
/// `model` extends with a `-` suffix.
fn suffixed_variant_encoding_name(model: &str) -> Option<&'static str> {
    TIKTOKEN_MODEL_TO_ENCODING
        .iter()
        .filter(|(name, _)| {
            model
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|&(_, encoding)| encoding)
}

/// `_is_listed_non_chat_model`: the registry lists `model` (or `azure/{model}`) with a mode
/// other than a chat mode.
fn is_listed_non_chat_model(model: &str) -> bool {
    ["", "azure/"].into_iter().any(|prefix| {
        cost_entry(prefix, model).is_some_and(|(_, mode, _)| mode.is_some() && !is_chat_mode(mode))
    })
}

/// `_fix_model_name`.
fn fix_model_name(model: &str) -> Cow<'_, str> {
    if contains(AZURE_LLMS, model) {
        Cow::Owned(model.replace("-35", "-3.5"))
    } else if contains(OPEN_AI_CHAT_COMPLETION_MODELS, model) {
        Cow::Borrowed(model)
    } else {
        Cow::Borrowed("gpt-3.5-turbo")
    }
}

/// `_openai_model_name`.
fn openai_model_name(model: &str) -> Option<&str> {
    truthy(listed_openai_model_name(model))
        .or_else(|| truthy(tiktoken_o200k_model_name(model)))
        .or_else(|| truthy(versioned_openai_model_name(model)))
        .or_else(|| azure_openai_chat_model_name(model))
}

/// `_listed_openai_model_name`: the last segment of `model` when some `/`-suffix of it (the
/// whole name included) is a listed OpenAI or Azure name, directly or under `azure/`.
fn listed_openai_model_name(model: &str) -> Option<&str> {
    let mut suffixes = std::iter::once(model).chain(
        model
            .char_indices()
            .filter(|&(_, c)| c == '/')
            .filter_map(|(index, _)| model.get(index + 1..)),
    );
    let listed = suffixes.any(|suffix| {
        is_openai_cost_map_model("", suffix) || is_openai_cost_map_model("azure/", suffix)
    });
    listed.then(|| last_segment(model))
}

/// `_is_openai_cost_map_model(prefix + model)`.
fn is_openai_cost_map_model(prefix: &str, model: &str) -> bool {
    let in_list = |list: &[&str]| {
        if prefix.is_empty() {
            contains(list, model)
        } else {
            model.len() + prefix.len() <= *MAX_NAME_LEN
                && contains(list, &format!("{prefix}{model}"))
        }
    };
    in_list(AZURE_LLMS)
        || in_list(OPEN_AI_CHAT_COMPLETION_MODELS)
        || is_azure_openai_text_model(prefix, model)
}

/// `_is_azure_openai_text_model(prefix + model)`.
fn is_azure_openai_text_model(prefix: &str, model: &str) -> bool {
    let Some((provider, mode, _)) = cost_entry(prefix, model) else {
        return false;
    };
    // The last segment of `prefix + model` is that of `model`, as `prefix` ends with `/`.
    provider == Some("azure")
        && mode.is_some_and(|mode| contains(TEXT_MODEL_MODES, mode))
        && is_openai_model_name(last_segment(model))
}

/// `_is_openai_model_name`.
fn is_openai_model_name(name: &str) -> bool {
    contains(OPEN_AI_CHAT_COMPLETION_MODELS, name)
        || tiktoken_encoding_name(name).is_some()
        || OPEN_AI_CHAT_COMPLETION_MODELS
            .iter()
            .any(|listed| extends(name, listed) || extends(listed, name))
}

/// `name.startswith(f"{base}-")`.
fn extends(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// `_tiktoken_o200k_model_name`.
fn tiktoken_o200k_model_name(model: &str) -> Option<&str> {
    let name = last_segment(model);
    (tiktoken_encoding_name(name) == Some("o200k_base")).then_some(name)
}

/// `_versioned_openai_model_name`.
fn versioned_openai_model_name(model: &str) -> Option<&str> {
    let name = last_segment(model);
    VERSIONED_OPENAI_MODEL.is_match(name).then_some(name)
}

/// `_openai_deployment_name`: the last segment, or for `ft:base:org::id` the base model.
fn openai_deployment_name(model: &str) -> &str {
    let name = last_segment(model);
    match name.strip_prefix("ft:") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => name,
    }
}

/// `_azure_openai_chat_model_name` (with `_is_azure_openai_chat_model`).
fn azure_openai_chat_model_name(model: &str) -> Option<&str> {
    let name = openai_deployment_name(model);
    let (provider, mode, pdf) = cost_entry("azure/", name)?;
    (provider == Some("azure") && is_chat_mode(mode) && (pdf || name.starts_with("gpt-")))
        .then_some(name)
}

/// Python's `\d` (in a `str` pattern) as the body of a regex character class.
fn python_digit_class() -> String {
    PYTHON_DECIMAL_DIGITS
        .iter()
        .map(|&(lo, hi)| format!("\\x{{{:x}}}-\\x{{{:x}}}", u32::from(lo), u32::from(hi)))
        .collect()
}

/// Builds a Python-semantics pattern: `{D}` stands for the digits of Python's `\d`. Python's
/// `$` (end, or before a final newline) is written `\n?\z`, and a negative lookahead
/// `(?!x)` as `(?:\z|[^x])`, which is equivalent for a yes/no search.
fn python_regex(pattern: &str) -> Regex {
    let pattern = pattern.replace("{D}", &python_digit_class());
    // The patterns are constants checked by the unit tests; no input reaches this.
    Regex::new(&pattern).unwrap_or_else(|error| unreachable!("invalid model pattern: {error}"))
}

/// `_VERSIONED_OPENAI_MODEL.match`:
/// `(?:gpt-(?:[5-9]|[1-9]\d+)|o[1-9]\d*)(?:[.-]|$)`.
static VERSIONED_OPENAI_MODEL: LazyLock<Regex> =
    LazyLock::new(|| python_regex(r"^(?:gpt-(?:[5-9]|[1-9][{D}]+)|o[1-9][{D}]*)(?:[.-]|\n?\z)"));

/// `litellm.utils._DEEPSEEK_TOKENIZER_MODEL.search` (`re.IGNORECASE`):
/// `deepseek[-_.](?:chat[-_.])?v[34]|(?:^|/)deepseek-(?:chat|reasoner|flash)(?::free)?$`.
static DEEPSEEK_TOKENIZER_MODEL: LazyLock<Regex> = LazyLock::new(|| {
    python_regex(
        r"(?i)deepseek[-_.](?:chat[-_.])?v[34]|(?:^|/)deepseek-(?:chat|reasoner|flash)(?::free)?\n?\z",
    )
});

/// Any pattern of `chat_template_tools._TOOL_SECTIONS` (all `re.IGNORECASE`, searched):
/// `deepseek-v4(?:[-._]|p)1(?!\d)`,
/// `deepseek-v4(?![.\d]|p\d)|^(?:deepseek/)?deepseek-(?:chat|reasoner|flash)(?::free)?$`,
/// `qwen3[._]?5(?!\d)`, `grok-4[-.]1(?![.\d])` and `grok-4[-.]3(?![.\d])`.
static CHAT_TEMPLATE_TOOL_SECTION: LazyLock<Regex> = LazyLock::new(|| {
    python_regex(concat!(
        r"(?i)",
        r"deepseek-v4(?:[-._]|p)1(?:\z|[^{D}])",
        r"|deepseek-v4(?:\z|[^.p{D}]|p(?:\z|[^{D}]))",
        r"|^(?:deepseek/)?deepseek-(?:chat|reasoner|flash)(?::free)?\n?\z",
        r"|qwen3[._]?5(?:\z|[^{D}])",
        r"|grok-4[-.]1(?:\z|[^.{D}])",
        r"|grok-4[-.]3(?:\z|[^.{D}])",
    ))
});

#[cfg(test)]
mod tests {
    use super::*;

    fn tiktoken(model: &str) -> ModelTokenizer {
        match tokenizer_for_model(model) {
            tokenizer @ ModelTokenizer::Tiktoken { .. } => tokenizer,
            other => panic!("{model}: {other:?}"),
        }
    }

    #[test]
    fn the_tables_are_sorted_and_unique() {
        fn strictly_sorted<'a>(names: impl Iterator<Item = &'a str>) -> bool {
            let names: Vec<&str> = names.collect();
            names.windows(2).all(|pair| pair[0] < pair[1])
        }
        for list in [
            OPEN_AI_CHAT_COMPLETION_MODELS,
            AZURE_LLMS,
            ANTHROPIC_MODELS,
            COHERE_MODELS,
            OPENAI_CHAT_MODES,
            TEXT_MODEL_MODES,
        ] {
            assert!(strictly_sorted(list.iter().copied()));
        }
        assert!(strictly_sorted(
            TIKTOKEN_MODEL_TO_ENCODING.iter().map(|e| e.0)
        ));
        assert!(strictly_sorted(MODEL_COST.iter().map(|e| e.0)));
        assert!(
            PYTHON_DECIMAL_DIGITS
                .windows(2)
                .all(|pair| pair[0].1 < pair[1].0)
        );
    }

    #[test]
    fn every_tiktoken_encoding_name_is_an_encoding() {
        let tables = TIKTOKEN_MODEL_TO_ENCODING
            .iter()
            .chain(TIKTOKEN_MODEL_PREFIX_TO_ENCODING);
        for &(_, name) in tables {
            let expected = if name == "gpt2" { "r50k_base" } else { name };
            assert_eq!(encoding_from_tiktoken_name(name).name(), expected);
        }
    }

    #[test]
    fn the_patterns_compile() {
        LazyLock::force(&VERSIONED_OPENAI_MODEL);
        LazyLock::force(&DEEPSEEK_TOKENIZER_MODEL);
        LazyLock::force(&CHAT_TEMPLATE_TOOL_SECTION);
    }

    #[test]
    fn gpt_4o_is_o200k() {
        assert_eq!(
            tiktoken("gpt-4o"),
            ModelTokenizer::Tiktoken {
                encoding: Encoding::O200kBase,
                legacy_accounting: false
            }
        );
        assert_eq!(
            encoding_for_model("openai/gpt-4o-mini"),
            Encoding::O200kBase
        );
        assert_eq!(encoding_for_model("azure/eu/gpt-4o"), Encoding::O200kBase);
        assert_eq!(encoding_for_model("ft:gpt-4o:org::id"), Encoding::O200kBase);
    }

    #[test]
    fn gpt_4_is_cl100k() {
        assert_eq!(encoding_for_model("gpt-4"), Encoding::Cl100kBase);
        assert_eq!(encoding_for_model("gpt-35-turbo"), Encoding::Cl100kBase);
    }

    #[test]
    fn gpt_3_5_turbo_0301_is_no_longer_listed() {
        // LiteLLM's legacy accounting needs `gpt-3.5-turbo-0301` to be a listed OpenAI model;
        // the bundled registry of 1.109/1.110 no longer lists it, so LiteLLM answers false.
        assert!(!uses_legacy_message_accounting("gpt-3.5-turbo-0301"));
        assert_eq!(
            encoding_for_model("gpt-3.5-turbo-0301"),
            Encoding::Cl100kBase
        );
        // The rule itself: a listed name that `_fix_model_name` maps to it.
        assert_eq!(fix_model_name("gpt-35-turbo"), "gpt-3.5-turbo");
    }

    #[test]
    fn other_providers_count_as_gpt_3_5_turbo() {
        for model in [
            "claude-3-5-sonnet",
            "claude-3-haiku-20240307",
            "gemini/gemini-1.5-pro",
            "mistral/mistral-large",
            "unknown-model",
            "",
            "command-r",
        ] {
            assert_eq!(
                tiktoken(model),
                ModelTokenizer::Tiktoken {
                    encoding: Encoding::Cl100kBase,
                    legacy_accounting: false
                },
                "{model}"
            );
        }
    }

    #[test]
    fn text_davinci_003_is_unlisted() {
        // tiktoken maps `text-davinci-003` to p50k_base, but LiteLLM no longer lists it, so it
        // counts it as `gpt-3.5-turbo`.
        assert_eq!(
            tiktoken_encoding_name("text-davinci-003"),
            Some("p50k_base")
        );
        assert_eq!(encoding_for_model("text-davinci-003"), Encoding::Cl100kBase);
    }

    #[test]
    fn unlisted_newer_openai_names_are_o200k() {
        for model in [
            "openai/gpt-5.9",
            "gpt-5.9",
            "openai/gpt-6.2",
            "o7-mini",
            "gpt-10",
            "o5",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::O200kBase, "{model}");
        }
        // Not shaped like a release: `gpt-4.9` is neither listed nor versioned.
        assert_eq!(encoding_for_model("gpt-4.9x"), Encoding::Cl100kBase);
    }

    #[test]
    fn listed_non_chat_models_are_cl100k() {
        assert_eq!(encoding_for_model("gpt-image-1"), Encoding::Cl100kBase);
        assert_eq!(
            encoding_for_model("text-embedding-3-small"),
            Encoding::Cl100kBase
        );
    }

    #[test]
    fn azure_only_names() {
        assert_eq!(encoding_for_model("azure/gpt-41"), Encoding::O200kBase);
        assert_eq!(encoding_name_for_model("azure/gpt-41-mini"), "o200k_base");
    }

    #[test]
    fn huggingface_kinds() {
        assert_eq!(
            huggingface_tokenizer_kind("claude-sonnet-4-5"),
            Some(HuggingFaceKind::Anthropic)
        );
        assert_eq!(huggingface_tokenizer_kind("claude-3-5-sonnet"), None);
        assert_eq!(
            huggingface_tokenizer_kind("deepseek/deepseek-chat"),
            Some(HuggingFaceKind::Deepseek)
        );
        assert_eq!(
            huggingface_tokenizer_kind("deepseek-chat\n"),
            Some(HuggingFaceKind::Deepseek)
        );
        assert_eq!(huggingface_tokenizer_kind("deepseek-chat\n\n"), None);
        assert_eq!(
            huggingface_tokenizer_kind("DeepSeek_V3"),
            Some(HuggingFaceKind::Deepseek)
        );
        // `re.IGNORECASE` folds the Kelvin sign to `k` and the long s to `s`.
        assert_eq!(
            huggingface_tokenizer_kind("deep\u{17f}ee\u{212a}-v3"),
            Some(HuggingFaceKind::Deepseek)
        );
        assert_eq!(
            huggingface_tokenizer_kind("Meta-Llama-3-70B"),
            Some(HuggingFaceKind::Llama3)
        );
        assert_eq!(
            huggingface_tokenizer_kind("replicate/anything"),
            Some(HuggingFaceKind::Llama2)
        );
        assert_eq!(huggingface_tokenizer_kind("command-r"), None);
    }

    #[test]
    fn chat_template_tool_sections() {
        for model in [
            "deepseek-v4",
            "deepseek/deepseek-chat",
            "deepseek-reasoner:free",
            "DeepSeek-V4-Flash",
            "deepseek-v4p1",
            "deepseek-v4.1",
            "qwen3.5-plus",
            "Qwen3_5",
            "grok-4.1",
            "xai/grok-4-3-mini",
        ] {
            assert!(has_chat_template_tool_section(model), "{model}");
        }
        for model in [
            "",
            "deepseek-v4.2",
            "deepseek-v40",
            "deepseek-v4p2",
            "qwen3.55",
            "grok-4.10",
            "grok-4.1.2",
            "openrouter/deepseek/deepseek-chat",
        ] {
            assert!(!has_chat_template_tool_section(model), "{model}");
        }
        // Python's `\d` is any decimal digit, not only ASCII.
        assert!(!has_chat_template_tool_section("qwen3.5\u{663}"));
        assert!(!has_chat_template_tool_section("deepseek-v4p\u{967}"));
    }

    #[test]
    fn versioned_names_follow_python() {
        assert!(VERSIONED_OPENAI_MODEL.is_match("gpt-5"));
        assert!(VERSIONED_OPENAI_MODEL.is_match("gpt-12\n"));
        assert!(VERSIONED_OPENAI_MODEL.is_match("gpt-1\u{663}-x"));
        assert!(VERSIONED_OPENAI_MODEL.is_match("o7-mini"));
        assert!(!VERSIONED_OPENAI_MODEL.is_match("gpt-4.1"));
        assert!(!VERSIONED_OPENAI_MODEL.is_match("gpt-1"));
        assert!(!VERSIONED_OPENAI_MODEL.is_match("gpt-5\n\n"));
        assert!(!VERSIONED_OPENAI_MODEL.is_match("o0"));
        assert!(!VERSIONED_OPENAI_MODEL.is_match("omni"));
    }

    #[test]
    fn chat_counter_for_model_refuses_what_it_cannot_count() {
        assert!(chat_counter_for_model("gpt-4o").is_ok());
        assert!(chat_counter_for_model("claude-sonnet-4-5").is_err());
        assert!(chat_counter_for_model("xai/grok-4.1").is_err());
        assert_eq!(
            chat_counter_for_model("gpt-4")
                .map(|chat| chat.counter().encoding())
                .ok(),
            Some(Encoding::Cl100kBase)
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let long = "a/".repeat(100_000);
        for model in [
            "/",
            "//",
            "ft:",
            "ft:/",
            "azure/",
            "ft::",
            "azure/ft:",
            "\n",
            "\u{0}",
            "é/ü/ft:ö",
            long.as_str(),
        ] {
            let _ = tokenizer_for_model(model);
            let _ = has_chat_template_tool_section(model);
            let _ = chat_counter_for_model(model);
        }
    }
}
