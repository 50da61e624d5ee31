#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]

mod bpe;
mod chat;
mod counter;
mod encoding;
mod error;
mod image;
pub mod litellm;
mod pretokenize;
mod tokenizer;
mod tools;
mod unicode;

pub use chat::{ChatCounter, ChatRequest};
pub use counter::{Counter, DEFAULT_CHUNK_CHARS, DEFAULT_MAX_EXACT_CHARS, MAX_CHUNK_CHARS};
pub use encoding::Encoding;
pub use error::{Error, Result};
pub use image::{Detail, ImageConfig, image_tokens};
pub use pretokenize::{Pattern, Pieces};
pub use tokenizer::Tokenizer;
pub use tools::render_tools;
