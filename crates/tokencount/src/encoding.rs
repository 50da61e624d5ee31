//! The tiktoken encodings and their byte-pair ranks.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use tiktoken_rs::{CoreBPE, Rank};

use crate::error::{Error, Result};
use crate::pretokenize::Pattern;

/// A tiktoken encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Encoding {
    /// `r50k_base` (GPT-3 `davinci`, `curie`, ...).
    R50kBase,
    /// `p50k_base` (`text-davinci-002/003`, codex).
    P50kBase,
    /// `p50k_edit` (edit models; the same ordinary tokens as `p50k_base`).
    P50kEdit,
    /// `cl100k_base` (GPT-4, GPT-3.5, embeddings v2, and LiteLLM's default).
    Cl100kBase,
    /// `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
    O200kBase,
    /// `o200k_harmony` (gpt-oss; the same ordinary tokens as `o200k_base`).
    O200kHarmony,
}

impl Encoding {
    /// Every encoding, in a stable order.
    pub const ALL: [Encoding; 6] = [
        Encoding::R50kBase,
        Encoding::P50kBase,
        Encoding::P50kEdit,
        Encoding::Cl100kBase,
        Encoding::O200kBase,
        Encoding::O200kHarmony,
    ];

    /// The tiktoken name of the encoding, such as `"cl100k_base"`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::R50kBase => "r50k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::P50kEdit => "p50k_edit",
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
        }
    }

    /// The encoding named `name`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEncoding`] for a name that is not a tiktoken encoding this crate ships.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| Error::UnknownEncoding(name.to_owned()))
    }

    /// The split pattern of the encoding.
    pub fn pattern(self) -> Pattern {
        match self {
            Encoding::R50kBase | Encoding::P50kBase | Encoding::P50kEdit => Pattern::Gpt2,
            Encoding::Cl100kBase => Pattern::Cl100k,
            Encoding::O200kBase | Encoding::O200kHarmony => Pattern::O200k,
        }
    }

    /// The tiktoken-rs reference implementation of this encoding.
    pub fn reference(self) -> &'static CoreBPE {
        match self {
            Encoding::R50kBase => tiktoken_rs::r50k_base_singleton(),
            Encoding::P50kBase => tiktoken_rs::p50k_base_singleton(),
            Encoding::P50kEdit => tiktoken_rs::p50k_edit_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::O200kHarmony => tiktoken_rs::o200k_harmony_singleton(),
        }
    }

    /// The encoding whose ordinary (non-special) tokens this one shares.
    fn rank_source(self) -> Encoding {
        match self {
            Encoding::P50kEdit => Encoding::P50kBase,
            Encoding::O200kHarmony => Encoding::O200kBase,
            other => other,
        }
    }

    /// The byte sequence → rank table of the ordinary tokens, built once per process from
    /// tiktoken-rs's embedded BPE files.
    pub(crate) fn ranks(self) -> &'static FxHashMap<Vec<u8>, Rank> {
        static TABLES: [OnceLock<FxHashMap<Vec<u8>, Rank>>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let source = self.rank_source();
        let slot = match source {
            Encoding::R50kBase => 0,
            Encoding::P50kBase => 1,
            Encoding::Cl100kBase => 2,
            _ => 3,
        };
        TABLES[slot].get_or_init(|| build_ranks(source.reference()))
    }
}

fn build_ranks(bpe: &CoreBPE) -> FxHashMap<Vec<u8>, Rank> {
    let special: Vec<&str> = bpe.special_tokens().into_iter().collect();
    let special_ranks: Vec<Rank> = special
        .iter()
        .flat_map(|s| bpe.encode_with_special_tokens(s))
        .collect();
    let mut ranks = FxHashMap::default();
    let mut missing_in_a_row = 0;
    for rank in 0..Rank::MAX {
        if special_ranks.contains(&rank) {
            continue;
        }
        match bpe.decode_bytes(&[rank]) {
            Ok(bytes) => {
                missing_in_a_row = 0;
                ranks.insert(bytes, rank);
            }
            Err(_) => {
                missing_in_a_row += 1;
                if missing_in_a_row > 4096 {
                    break;
                }
            }
        }
    }
    ranks
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}
