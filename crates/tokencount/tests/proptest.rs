//! Equivalence of the hand-written split and the fast count with tiktoken-rs.

use fancy_regex::Regex;
use fastllm_tokencount::{Encoding, Pattern, Tokenizer};
use proptest::prelude::*;

fn reference_pieces(pattern: Pattern, text: &str) -> Vec<String> {
    let regex = Regex::new(pattern.regex()).expect("reference regex compiles");
    regex
        .find_iter(text)
        .map(|m| m.expect("no backtrack limit").as_str().to_owned())
        .collect()
}

fn reference_count(encoding: Encoding, text: &str) -> usize {
    encoding.reference().encode_ordinary(text).len()
}

/// Characters that exercise every branch of the split patterns.
const TRICKY: &[char] = &[
    ' ', ' ', ' ', '\n', '\r', '\t', '\u{b}', '\u{c}', '\u{a0}', '\u{2028}', '\u{3000}', '\'',
    '\'', 's', 'S', 't', 'l', 'L', 'v', 'e', 'r', 'd', 'm', 'M', '\u{17f}', 'a', 'A', 'z', 'Z',
    '0', '1', '9', '٣', 'Ⅻ', '½', '.', ',', '!', '/', '/', '-', '_', '(', '{', '"', '#', '\u{301}',
    '\u{300}', '\u{93f}', 'é', 'É', 'ǅ', 'ʰ', 'ß', '日', '本', 'ー', 'ア', '가', '😀', '🎉',
    '\u{200d}', '\u{fe0f}', 'Ω', 'ω', 'Я', 'я', 'ﬁ', '\u{0}', '\u{7f}', '\u{85}',
];

fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TRICKY), 0..64).prop_map(|v| v.into_iter().collect())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        tricky_text(),
        any::<String>(),
        "[ a-zA-Z0-9'.,!?\n\t]{0,200}",
        "\\PC{0,80}",
    ]
}

const PATTERNS: [Pattern; 3] = [Pattern::Gpt2, Pattern::Cl100k, Pattern::O200k];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn split_matches_reference_regex(text in any_text()) {
        for pattern in PATTERNS {
            let ours: Vec<&str> = pattern.pieces(&text).collect();
            prop_assert_eq!(ours, reference_pieces(pattern, &text), "pattern {:?}", pattern);
        }
    }

    /// Long letter runs are single pieces that are rarely one token: the merge path.
    #[test]
    fn merge_counts_match_tiktoken(word in "[a-zA-Z\\x{e9}\\x{3b1}-\\x{3c9}\\x{65e5}]{2,300}") {
        for encoding in [Encoding::R50kBase, Encoding::Cl100kBase, Encoding::O200kBase] {
            prop_assert_eq!(
                Tokenizer::get(encoding).count(&word),
                reference_count(encoding, &word),
                "encoding {}", encoding
            );
        }
    }

    #[test]
    fn count_matches_tiktoken(text in any_text()) {
        for encoding in [Encoding::R50kBase, Encoding::P50kBase, Encoding::Cl100kBase, Encoding::O200kBase] {
            prop_assert_eq!(
                Tokenizer::get(encoding).count(&text),
                reference_count(encoding, &text),
                "encoding {}", encoding
            );
        }
    }
}

#[test]
fn special_tokens_count_as_ordinary_text() {
    for encoding in Encoding::ALL {
        let text = "<|endoftext|> and <|fim_prefix|> <|endofprompt|>";
        assert_eq!(
            Tokenizer::get(encoding).count(text),
            reference_count(encoding, text)
        );
        assert!(Tokenizer::get(encoding).count(text) > 3);
    }
}

#[test]
fn long_runs_match() {
    for text in [
        "a".repeat(3000),
        " ".repeat(3000) + "x",
        "\n".repeat(100) + "  \n x",
        "1234567".repeat(100),
        "ÀÀÀÀ\u{301}bb's".repeat(50),
    ] {
        for encoding in [
            Encoding::Cl100kBase,
            Encoding::O200kBase,
            Encoding::P50kBase,
        ] {
            assert_eq!(
                Tokenizer::get(encoding).count(&text),
                reference_count(encoding, &text)
            );
        }
    }
}
