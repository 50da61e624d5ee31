#![doc = include_str!("../README.md")]

mod encoding;
mod error;
mod pretokenize;
mod tokenizer;
mod unicode;

pub use encoding::Encoding;
pub use error::{Error, Result};
pub use pretokenize::{Pattern, Pieces};
pub use tokenizer::Tokenizer;
