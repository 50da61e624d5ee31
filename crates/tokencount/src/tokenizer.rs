//! Exact tiktoken counts: the hand-written split plus byte-pair encoding over tiktoken-rs's
//! ranks.

use std::sync::OnceLock;

use crate::bpe::Ranks;
use crate::encoding::Encoding;
use crate::pretokenize::Pattern;

/// Counts tokens exactly as tiktoken's `encode_ordinary` would, without producing them.
///
/// Obtain one with [`Tokenizer::get`]; it is built once per encoding per process (the first
/// call for an encoding takes a few hundred milliseconds to load its ranks) and is shared by
/// every thread.
#[derive(Debug)]
pub struct Tokenizer {
    encoding: Encoding,
    pattern: Pattern,
    ranks: Ranks,
    /// Tells this encoding's entries apart in the per-thread merge cache.
    slot: usize,
}

impl Tokenizer {
    /// The shared tokenizer for `encoding`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_tokencount::{Encoding, Tokenizer};
    ///
    /// let tokenizer = Tokenizer::get(Encoding::O200kBase);
    /// assert_eq!(tokenizer.count("hello world"), 2);
    /// ```
    pub fn get(encoding: Encoding) -> &'static Tokenizer {
        static TOKENIZERS: [OnceLock<Tokenizer>; 6] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let slot = Encoding::ALL
            .iter()
            .position(|e| *e == encoding)
            .expect("every encoding is in ALL");
        TOKENIZERS[slot].get_or_init(|| Tokenizer {
            encoding,
            pattern: encoding.pattern(),
            ranks: Ranks::new(encoding.ranks()),
            slot,
        })
    }

    /// The encoding this tokenizer counts with.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The number of tokens tiktoken's `encode_ordinary(text)` returns (special tokens such
    /// as `<|endoftext|>` are counted as ordinary text, like `disallowed_special=()`).
    pub fn count(&self, text: &str) -> usize {
        self.pattern
            .pieces(text)
            .map(|piece| self.count_piece(piece.as_bytes()))
            .sum()
    }

    /// The number of tokens byte-pair encoding gives one piece of the split.
    #[inline]
    pub fn count_piece(&self, piece: &[u8]) -> usize {
        if piece.len() == 1 || self.ranks.get(piece).is_some() {
            1
        } else {
            self.ranks.cached_merge_count(self.slot, piece)
        }
    }
}
