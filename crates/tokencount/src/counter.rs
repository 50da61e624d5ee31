//! LiteLLM's text count: tiktoken over fixed-size chunks, with sampling past a size cap.

use rayon::prelude::*;

use crate::encoding::Encoding;
use crate::error::{Error, Result, unsupported};
use crate::tokenizer::Tokenizer;

/// LiteLLM's default `TIKTOKEN_ENCODE_CHUNK_SIZE_CHARS`.
pub const DEFAULT_CHUNK_CHARS: usize = 1024;
/// The largest chunk size LiteLLM accepts (`TIKTOKEN_ENCODE_MAX_CHUNK_SIZE_CHARS`).
pub const MAX_CHUNK_CHARS: usize = 4096;
/// LiteLLM's default `TOKEN_COUNTER_MAX_EXACT_CHARS`.
pub const DEFAULT_MAX_EXACT_CHARS: usize = 4_000_000;
/// The largest exact-count cap LiteLLM accepts.
pub const MAX_MAX_EXACT_CHARS: usize = 1_000_000_000;
/// How many evenly spaced samples LiteLLM counts for a text over the cap.
const EXTRAPOLATION_SAMPLES: usize = 16;
/// Below this many chunks a text is counted on the calling thread.
const PARALLEL_MIN_CHUNKS: usize = 8;

/// Counts text the way LiteLLM's `token_counter` does for tiktoken models.
///
/// LiteLLM does not count a text in one piece: it encodes it in chunks of
/// [`DEFAULT_CHUNK_CHARS`] characters (Unicode code points, as Python counts them) and adds
/// the chunk counts, so a word cut by a chunk boundary counts as two pieces. Texts longer than
/// [`DEFAULT_MAX_EXACT_CHARS`] are estimated from 16 evenly spaced samples. `Counter`
/// reproduces both rules exactly; use [`Tokenizer`] for a plain tiktoken count.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::{Counter, Encoding};
///
/// let counter = Counter::new(Encoding::Cl100kBase);
/// assert_eq!(counter.count("hello world"), 2);
///
/// // The chunk boundary falls inside a word, so LiteLLM's count is higher than tiktoken's.
/// let text = "x".repeat(1023) + "hello";
/// assert!(counter.count(&text) > counter.tokenizer().count(&text));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    tokenizer: &'static Tokenizer,
    chunk_chars: usize,
    max_exact_chars: usize,
    parallel: bool,
}

impl Counter {
    /// A counter for `encoding` with LiteLLM's default settings.
    pub fn new(encoding: Encoding) -> Self {
        Self {
            tokenizer: Tokenizer::get(encoding),
            chunk_chars: DEFAULT_CHUNK_CHARS,
            max_exact_chars: DEFAULT_MAX_EXACT_CHARS,
            parallel: true,
        }
    }

    /// The same counter with another chunk size (LiteLLM's `TIKTOKEN_ENCODE_CHUNK_SIZE_CHARS`).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] unless `1 <= chunk_chars <= 4096`, the range LiteLLM accepts.
    pub fn with_chunk_chars(mut self, chunk_chars: usize) -> Result<Self> {
        if !(1..=MAX_CHUNK_CHARS).contains(&chunk_chars) {
            return Err(Error::OutOfRange {
                name: "chunk_chars",
                value: chunk_chars,
                min: 1,
                max: MAX_CHUNK_CHARS,
            });
        }
        self.chunk_chars = chunk_chars;
        Ok(self)
    }

    /// The same counter with another exact-count cap (LiteLLM's `TOKEN_COUNTER_MAX_EXACT_CHARS`).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfRange`] unless `1 <= max_exact_chars <= 1_000_000_000`.
    pub fn with_max_exact_chars(mut self, max_exact_chars: usize) -> Result<Self> {
        if !(1..=MAX_MAX_EXACT_CHARS).contains(&max_exact_chars) {
            return Err(Error::OutOfRange {
                name: "max_exact_chars",
                value: max_exact_chars,
                min: 1,
                max: MAX_MAX_EXACT_CHARS,
            });
        }
        self.max_exact_chars = max_exact_chars;
        Ok(self)
    }

    /// The same counter, counting long texts on the calling thread only (`false`) or spreading
    /// their chunks over rayon's thread pool (`true`, the default).
    pub fn with_parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The tokenizer this counter uses.
    pub fn tokenizer(&self) -> &'static Tokenizer {
        self.tokenizer
    }

    /// The encoding this counter uses.
    pub fn encoding(&self) -> Encoding {
        self.tokenizer.encoding()
    }

    /// The chunk size, in characters.
    pub fn chunk_chars(&self) -> usize {
        self.chunk_chars
    }

    /// The exact-count cap, in characters.
    pub fn max_exact_chars(&self) -> usize {
        self.max_exact_chars
    }

    /// LiteLLM's count of `text`.
    ///
    /// For a text over the exact-count cap whose estimate cannot be computed exactly in
    /// double precision (more than 2^53 / 4M characters), this saturates to the nearest
    /// double; [`Counter::try_count`] reports that case as an error instead.
    pub fn count(&self, text: &str) -> usize {
        self.try_count(text)
            .unwrap_or_else(|_| self.estimate(text, true).unwrap_or(usize::MAX))
    }

    /// LiteLLM's count of `text`, or an error where the result might differ from LiteLLM's.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a text so long that LiteLLM's sampled estimate would be
    /// rounded through a double that cannot hold the intermediate product exactly.
    pub fn try_count(&self, text: &str) -> Result<usize> {
        let chars = char_len(text);
        if chars <= self.max_exact_chars {
            return Ok(self.count_exactly(text));
        }
        self.estimate(text, false)
    }

    /// LiteLLM's `_get_extrapolating_count_function` for a text over the cap.
    fn estimate(&self, text: &str, lossy: bool) -> Result<usize> {
        let len = char_len(text);
        let sample_count = EXTRAPOLATION_SAMPLES.min(self.max_exact_chars);
        let sample_chars = self.max_exact_chars / sample_count;
        let last_start = len - sample_chars;
        let divisor = (sample_count - 1).max(1);
        let offsets = char_offsets(text);
        let mut sampled_tokens = 0usize;
        for index in 0..sample_count {
            let start = last_start * index / divisor;
            let sample = &text[offsets(start)..offsets(start + sample_chars)];
            sampled_tokens += self.count_exactly(sample);
        }
        let sampled_chars = sample_count * sample_chars;
        let numerator = sampled_tokens as u128 * len as u128;
        const EXACT: u128 = 1 << 53;
        if numerator >= EXACT && !lossy {
            return unsupported("text too long to reproduce LiteLLM's sampled estimate exactly");
        }
        // Python: round(int * int / int) — a correctly rounded true division, then
        // round-half-to-even.
        let quotient = numerator as f64 / sampled_chars as f64;
        Ok(quotient.round_ties_even() as usize)
    }

    /// LiteLLM's chunked tiktoken count of `text`.
    pub fn count_exactly(&self, text: &str) -> usize {
        if text.len() <= self.chunk_chars {
            // At most `chunk_chars` bytes means at most that many characters: one chunk.
            return self.tokenizer.count(text);
        }
        let chunks = Chunks {
            rest: text,
            chunk_chars: self.chunk_chars,
        };
        if self.parallel && text.len() >= PARALLEL_MIN_CHUNKS * self.chunk_chars {
            let chunks: Vec<&str> = chunks.collect();
            if chunks.len() >= PARALLEL_MIN_CHUNKS {
                return chunks.par_iter().map(|c| self.tokenizer.count(c)).sum();
            }
            return chunks.iter().map(|c| self.tokenizer.count(c)).sum();
        }
        chunks.map(|c| self.tokenizer.count(c)).sum()
    }
}

/// The number of Unicode code points in `text` (Python's `len`).
pub(crate) fn char_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A function from a code-point offset to a byte offset of `text` (offsets past the end map
/// to the end, like Python slicing).
fn char_offsets(text: &str) -> impl Fn(usize) -> usize + '_ {
    let ascii = text.is_ascii();
    let starts: Vec<usize> = if ascii {
        Vec::new()
    } else {
        text.char_indices().map(|(i, _)| i).collect()
    };
    move |chars| {
        if ascii {
            chars.min(text.len())
        } else {
            starts.get(chars).copied().unwrap_or(text.len())
        }
    }
}

/// Consecutive slices of `chunk_chars` code points.
struct Chunks<'a> {
    rest: &'a str,
    chunk_chars: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let head = &self.rest.as_bytes()[..self.rest.len().min(self.chunk_chars)];
        let end = if head.is_ascii() {
            head.len()
        } else {
            self.rest
                .char_indices()
                .nth(self.chunk_chars)
                .map_or(self.rest.len(), |(i, _)| i)
        };
        let (chunk, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_on_code_points() {
        let text = "é".repeat(5) + "abc";
        let chunks: Vec<&str> = Chunks {
            rest: &text,
            chunk_chars: 3,
        }
        .collect();
        assert_eq!(chunks, ["ééé", "ééa", "bc"]);
    }

    #[test]
    fn chunk_boundary_changes_the_count() {
        let counter = Counter::new(Encoding::Cl100kBase)
            .with_chunk_chars(4)
            .unwrap();
        // " hello" is one token; cut as " hel" + "lo" it is two or more.
        assert!(counter.count(" hello") > 1);
        assert_eq!(counter.tokenizer().count(" hello"), 1);
    }

    #[test]
    fn extrapolates_past_the_cap() {
        let counter = Counter::new(Encoding::Cl100kBase)
            .with_max_exact_chars(32)
            .unwrap();
        let text = "ab ".repeat(100);
        // 16 samples of 2 chars, each "ab", " a" or "b " → 1 or 2 tokens each.
        let n = counter.count(&text);
        assert!(n > 0 && n < 300, "{n}");
    }

    #[test]
    fn rejects_out_of_range_settings() {
        assert!(
            Counter::new(Encoding::O200kBase)
                .with_chunk_chars(0)
                .is_err()
        );
        assert!(
            Counter::new(Encoding::O200kBase)
                .with_chunk_chars(4097)
                .is_err()
        );
        assert!(
            Counter::new(Encoding::O200kBase)
                .with_max_exact_chars(0)
                .is_err()
        );
    }
}
