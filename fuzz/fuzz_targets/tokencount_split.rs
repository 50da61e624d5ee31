//! Fuzz target: the hand-written pre-tokenizer and token counter agree with tiktoken-rs.
#![no_main]

use std::sync::OnceLock;

use fancy_regex::Regex;
use fastllm_tokencount::{Encoding, Pattern, Tokenizer};
use libfuzzer_sys::fuzz_target;

/// Longer inputs are skipped so the backtracking reference regex stays fast.
const MAX_LEN: usize = 4096;

const PATTERNS: [Pattern; 3] = [Pattern::Gpt2, Pattern::Cl100k, Pattern::O200k];

/// One encoding per pattern family.
const ENCODINGS: [Encoding; 3] = [Encoding::Cl100kBase, Encoding::O200kBase, Encoding::P50kBase];

/// The reference regexes, in the order of `PATTERNS`, compiled once.
fn reference_regexes() -> &'static [Regex; 3] {
    static REGEXES: OnceLock<[Regex; 3]> = OnceLock::new();
    REGEXES.get_or_init(|| PATTERNS.map(|p| Regex::new(p.regex()).expect("reference regex compiles")))
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_LEN {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (pattern, regex) in PATTERNS.into_iter().zip(reference_regexes()) {
        // A reference error (backtrack limit) leaves nothing to compare with: skip the input.
        let Ok(expected) = regex
            .find_iter(text)
            .map(|m| m.map(|m| m.as_str()))
            .collect::<Result<Vec<&str>, _>>()
        else {
            return;
        };
        let pieces: Vec<&str> = pattern.pieces(text).collect();
        assert_eq!(pieces, expected, "{pattern:?} pieces of {text:?}");
    }
    for encoding in ENCODINGS {
        let count = Tokenizer::get(encoding).count(text);
        let expected = encoding.reference().encode_ordinary(text).len();
        assert_eq!(count, expected, "{encoding:?} count of {text:?}");
    }
});
