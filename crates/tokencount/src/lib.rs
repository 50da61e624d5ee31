#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]

mod bpe;
mod chat;
mod counter;
mod encoding;
mod error;
mod image;
mod model;
mod model_data;
mod pretokenize;
mod tokenizer;
mod tools;
mod unicode;

pub use chat::{ChatCounter, ChatRequest};
pub use counter::{Counter, DEFAULT_CHUNK_CHARS, DEFAULT_MAX_EXACT_CHARS, MAX_CHUNK_CHARS};
pub use encoding::Encoding;
pub use error::{Error, Result};
pub use image::{Detail, ImageConfig, image_tokens};
pub use model::{
    HuggingFaceKind, MODEL_DATA_LITELLM_VERSION, ModelTokenizer, chat_counter_for_model,
    encoding_for_model, encoding_name_for_model, has_chat_template_tool_section,
    huggingface_tokenizer_kind, tokenizer_for_model, uses_legacy_message_accounting,
};
pub use pretokenize::{Pattern, Pieces};
pub use tokenizer::Tokenizer;
pub use tools::render_tools;
