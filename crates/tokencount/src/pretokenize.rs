//! Hand-written scanners equivalent to tiktoken's split regexes.
//!
//! tiktoken splits text into pieces with a backtracking regex before it runs byte-pair
//! encoding on each piece. The regex engine is the slow half of encoding, so this module
//! re-implements each pattern as a direct scanner. Every alternative of the pattern is
//! mirrored in order, with the same greedy/possessive/backtracking behaviour; the
//! equivalence with tiktoken-rs is checked by proptest and by a fuzz target.

use crate::unicode::{Classes, LETTER, LL, LM, LO, LT, LU, MARK, NUM, SPACE};

/// The split pattern family of an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// The GPT-2 pattern used by `r50k_base`, `p50k_base` and `p50k_edit`.
    Gpt2,
    /// The `cl100k_base` pattern.
    Cl100k,
    /// The `o200k_base` / `o200k_harmony` pattern.
    O200k,
}

/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`, the "upper" class of the o200k pattern.
const UPPER: u8 = LU | LT | LM | LO | MARK;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`, the "lower" class of the o200k pattern.
const LOWER: u8 = LL | LM | LO | MARK;

/// A scanner over one text.
struct Scan<'a> {
    text: &'a str,
    classes: Classes,
}

impl Scan<'_> {
    /// The char starting at byte `i` (which must be `< len`) and its width.
    #[inline]
    fn at(&self, i: usize) -> (char, usize) {
        let b = self.text.as_bytes()[i];
        if b < 0x80 {
            (b as char, 1)
        } else {
            let c = self.text[i..].chars().next().expect("i is inside the text");
            (c, c.len_utf8())
        }
    }

    #[inline(always)]
    fn class_at(&self, i: usize) -> Option<(char, u8, usize)> {
        let b = *self.text.as_bytes().get(i)?;
        if b < 0x80 {
            Some((b as char, self.classes.ascii(b), 1))
        } else {
            let (c, w) = self.at(i);
            Some((c, self.classes.of(c), w))
        }
    }

    /// End of the maximal run, from `i`, of chars whose flags intersect `mask`.
    #[inline(always)]
    fn run(&self, i: usize, mask: u8) -> usize {
        self.run_while(i, |class| class & mask != 0)
    }

    /// End of the maximal run, from `i`, of chars that are none of `mask`.
    #[inline(always)]
    fn run_not(&self, i: usize, mask: u8) -> usize {
        self.run_while(i, |class| class & mask == 0)
    }

    #[inline(always)]
    fn run_while(&self, mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 {
                if !keep(self.classes.ascii(b)) {
                    break;
                }
                i += 1;
            } else {
                let (c, w) = self.at(i);
                if !keep(self.classes.of(c)) {
                    break;
                }
                i += w;
            }
        }
        i
    }

    /// End of the maximal run, from `i`, of chars in `set` (ASCII only).
    #[inline]
    fn run_ascii(&self, mut i: usize, set: &[u8]) -> usize {
        let bytes = self.text.as_bytes();
        while i < bytes.len() && set.contains(&bytes[i]) {
            i += 1;
        }
        i
    }

    /// The English contraction after an apostrophe at `i`, or `None`.
    ///
    /// `ignore_case` follows the regex engine's simple case folding, under which `s` also
    /// matches U+017F LATIN SMALL LETTER LONG S.
    #[inline(always)]
    fn contraction(&self, i: usize, ignore_case: bool) -> Option<usize> {
        let bytes = self.text.as_bytes();
        if bytes.get(i) != Some(&b'\'') {
            return None;
        }
        let (c, w) = self.class_at(i + 1).map(|(c, _, w)| (c, w))?;
        let fold = |c: char| {
            if ignore_case {
                if c == '\u{17f}' {
                    's'
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        };
        if matches!(fold(c), 's' | 'd' | 'm' | 't') {
            return Some(i + 1 + w);
        }
        let (d, w2) = self.class_at(i + 1 + w).map(|(d, _, w)| (d, w))?;
        match (fold(c), fold(d)) {
            ('l', 'l') | ('v', 'e') | ('r', 'e') => Some(i + 1 + w + w2),
            _ => None,
        }
    }

    /// The whitespace alternatives of `pattern` for the run that starts at `i` with a
    /// whitespace char of width `w`.
    ///
    /// cl100k tries `\s++$`, `\s*[\r\n]`, `\s+(?!\S)`, `\s`; o200k tries `\s*[\r\n]+`,
    /// `\s+(?!\S)`, `\s+`; gpt2 tries `\s++$`, `\s+(?!\S)`, `\s`. Both newline
    /// alternatives end right after the last `\r` or `\n` of the run.
    fn whitespace(&self, i: usize, w: usize, pattern: Pattern) -> usize {
        let end = self.run(i, SPACE);
        let last_newline = || {
            self.text.as_bytes()[i..end]
                .iter()
                .rposition(|&b| b == b'\r' || b == b'\n')
                .map(|p| i + p + 1)
        };
        match pattern {
            Pattern::O200k => {
                if let Some(newline_end) = last_newline() {
                    return newline_end;
                }
                if end == self.text.len() {
                    return end;
                }
            }
            Pattern::Cl100k => {
                if end == self.text.len() {
                    return end;
                }
                if let Some(newline_end) = last_newline() {
                    return newline_end;
                }
            }
            Pattern::Gpt2 => {
                if end == self.text.len() {
                    return end;
                }
            }
        }
        // `\s+(?!\S)` before a non-space: give back the last whitespace char.
        let last = self.text[i..end]
            .chars()
            .next_back()
            .map_or(0, char::len_utf8);
        if end - last > i {
            return end - last;
        }
        // `\s` / `\s+`: the single whitespace char.
        i + w
    }

    fn gpt2(&self, i: usize) -> usize {
        if let Some(end) = self.contraction(i, false) {
            return end;
        }
        let (c, class, w) = self.class_at(i).expect("i is inside the text");
        // ` ?\p{L}++`, ` ?\p{N}++`, ` ?[^\s\p{L}\p{N}]++`
        let (start, class) = if c == ' ' {
            match self.class_at(i + 1) {
                Some((_, next, _)) if next & SPACE == 0 => (i + 1, next),
                _ => (i, class),
            }
        } else {
            (i, class)
        };
        if class & LETTER != 0 {
            return self.run(start, LETTER);
        }
        if class & NUM != 0 {
            return self.run(start, NUM);
        }
        if class & SPACE == 0 {
            return self.run_not(start, SPACE | LETTER | NUM);
        }
        self.whitespace(i, w, Pattern::Gpt2)
    }

    fn cl100k(&self, i: usize) -> usize {
        if let Some(end) = self.contraction(i, true) {
            return end;
        }
        let (c, class, w) = self.class_at(i).expect("i is inside the text");
        // `[^\r\n\p{L}\p{N}]?+\p{L}++`
        if class & LETTER != 0 {
            return self.run(i, LETTER);
        }
        if c != '\r' && c != '\n' && class & NUM == 0 {
            if let Some((_, next, _)) = self.class_at(i + w) {
                if next & LETTER != 0 {
                    return self.run(i + w, LETTER);
                }
            }
        }
        // `\p{N}{1,3}+`
        if class & NUM != 0 {
            let mut end = i + w;
            for _ in 0..2 {
                match self.class_at(end) {
                    Some((_, next, w)) if next & NUM != 0 => end += w,
                    _ => break,
                }
            }
            return end;
        }
        // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
        let punct = SPACE | LETTER | NUM;
        if c == ' ' {
            if let Some((_, next, _)) = self.class_at(i + 1) {
                if next & punct == 0 {
                    let end = self.run_not(i + 1, punct);
                    return self.run_ascii(end, b"\r\n");
                }
            }
        }
        if class & punct == 0 {
            let end = self.run_not(i, punct);
            return self.run_ascii(end, b"\r\n");
        }
        self.whitespace(i, w, Pattern::Cl100k)
    }

    /// `UPPER* LOWER+` (`star_first`) or `UPPER+ LOWER*` of the o200k pattern from `s`: the
    /// end of the letters, before the optional contraction, or `None` if it cannot match.
    #[inline]
    fn o200k_letters(&self, s: usize, star_first: bool) -> Option<usize> {
        let upper_end = self.run(s, UPPER);
        if !star_first {
            return (upper_end > s).then(|| self.run(upper_end, LOWER));
        }
        // `UPPER* LOWER+`: back off the greedy UPPER* one char at a time until LOWER+ matches.
        let mut j = upper_end;
        loop {
            let lower_end = self.run(j, LOWER);
            if lower_end > j {
                return Some(lower_end);
            }
            if j == s {
                return None;
            }
            j -= self.text[s..j]
                .chars()
                .next_back()
                .map_or(0, char::len_utf8);
        }
    }

    /// The two word alternatives of the o200k pattern,
    /// `[^\r\n\p{L}\p{N}]? UPPER* LOWER+ (?i:'s|'t|'re|'ve|'m|'ll|'d)?` and
    /// `[^\r\n\p{L}\p{N}]? UPPER+ LOWER* (?i:...)?`, tried in order, each first with the
    /// optional prefix char taken and then without it.
    #[inline]
    fn o200k_word(&self, i: usize, c: char, class: u8, w: usize) -> Option<usize> {
        const WORD: u8 = UPPER | LOWER;
        let prefix_ok = c != '\r' && c != '\n' && class & (LETTER | NUM) == 0;
        let prefixed = prefix_ok
            && self
                .class_at(i + w)
                .is_some_and(|(_, next, _)| next & WORD != 0);
        if !prefixed && class & WORD == 0 {
            return None; // both alternatives need a letter or mark at `i` or right after it
        }
        for star_first in [true, false] {
            let found = if prefixed {
                self.o200k_letters(i + w, star_first)
            } else {
                None
            }
            .or_else(|| {
                if class & WORD != 0 {
                    self.o200k_letters(i, star_first)
                } else {
                    None
                }
            });
            if let Some(end) = found {
                return Some(self.contraction(end, true).unwrap_or(end));
            }
        }
        None
    }

    /// The o200k word alternatives for the common all-ASCII word (`word`, ` word`, `Word`,
    /// `(word`, `WORD`), or `None` when a non-ASCII char is involved and the generic scanner
    /// must decide. Equivalent to [`Scan::o200k_word`] on the inputs it accepts.
    #[inline(always)]
    fn o200k_ascii_word(&self, i: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let c = bytes[i];
        let s = if c.is_ascii_alphabetic() {
            i
        } else if c < 0x80
            && c != b'\r'
            && c != b'\n'
            && !c.is_ascii_digit()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
        {
            i + 1
        } else {
            return None;
        };
        let mut upper_end = s;
        while upper_end < bytes.len() && bytes[upper_end].is_ascii_uppercase() {
            upper_end += 1;
        }
        let mut end = upper_end;
        while end < bytes.len() && bytes[end].is_ascii_lowercase() {
            end += 1;
        }
        // A non-ASCII char next could be a letter or mark that extends either run.
        if bytes.get(end).is_some_and(|&b| b >= 0x80) {
            return None;
        }
        // `UPPER* LOWER+` needs a lowercase letter; with none, only `UPPER+ LOWER*` (here
        // `UPPER+`) matches. Either way the letters end at `end`, or `end` is `upper_end`.
        Some(self.contraction(end, true).unwrap_or(end))
    }

    fn o200k(&self, i: usize) -> usize {
        if let Some(end) = self.o200k_ascii_word(i) {
            return end;
        }
        let (c, class, w) = self.class_at(i).expect("i is inside the text");
        if let Some(end) = self.o200k_word(i, c, class, w) {
            return end;
        }
        // `\p{N}{1,3}`
        if class & NUM != 0 {
            let mut end = i + w;
            for _ in 0..2 {
                match self.class_at(end) {
                    Some((_, next, w)) if next & NUM != 0 => end += w,
                    _ => break,
                }
            }
            return end;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        let punct = SPACE | LETTER | NUM;
        if c == ' ' {
            if let Some((_, next, _)) = self.class_at(i + 1) {
                if next & punct == 0 {
                    let end = self.run_not(i + 1, punct);
                    return self.run_ascii(end, b"\r\n/");
                }
            }
        }
        if class & punct == 0 {
            let end = self.run_not(i, punct);
            return self.run_ascii(end, b"\r\n/");
        }
        self.whitespace(i, w, Pattern::O200k)
    }
}

/// An iterator over the pieces of a text under a split pattern.
pub struct Pieces<'a> {
    scan: Scan<'a>,
    pattern: Pattern,
    pos: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.pos >= self.scan.text.len() {
            return None;
        }
        let start = self.pos;
        let end = match self.pattern {
            Pattern::Gpt2 => self.scan.gpt2(start),
            Pattern::Cl100k => self.scan.cl100k(start),
            Pattern::O200k => self.scan.o200k(start),
        };
        debug_assert!(end > start);
        self.pos = end;
        Some(&self.scan.text[start..end])
    }
}

impl Pattern {
    /// Splits `text` into the pieces tiktoken's regex for this pattern finds.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_tokencount::Pattern;
    ///
    /// let pieces: Vec<&str> = Pattern::Cl100k.pieces("Hello world, it's 2024!").collect();
    /// assert_eq!(pieces, ["Hello", " world", ",", " it", "'s", " ", "202", "4", "!"]);
    /// ```
    pub fn pieces(self, text: &str) -> Pieces<'_> {
        Pieces {
            scan: Scan {
                text,
                classes: Classes::get(),
            },
            pattern: self,
            pos: 0,
        }
    }

    /// The regex this scanner is equivalent to, as tiktoken-rs writes it.
    pub fn regex(self) -> &'static str {
        match self {
            Pattern::Gpt2 => {
                r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"
            }
            Pattern::Cl100k => {
                r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
            }
            Pattern::O200k => tiktoken_rs::O200K_BASE_PAT_STR,
        }
    }
}
