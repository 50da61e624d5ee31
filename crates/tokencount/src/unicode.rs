//! Character classes used by the tiktoken split patterns.
//!
//! The tables are built from `regex-syntax`, the same crate (and therefore the same Unicode
//! version) that `fancy-regex` uses inside tiktoken-rs, so a hand-written scanner that consults
//! them classifies every code point exactly as the reference regex does.

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// Uppercase letter (`\p{Lu}`).
pub(crate) const LU: u8 = 1;
/// Lowercase letter (`\p{Ll}`).
pub(crate) const LL: u8 = 1 << 1;
/// Titlecase letter (`\p{Lt}`).
pub(crate) const LT: u8 = 1 << 2;
/// Modifier letter (`\p{Lm}`).
pub(crate) const LM: u8 = 1 << 3;
/// Other letter (`\p{Lo}`).
pub(crate) const LO: u8 = 1 << 4;
/// Mark (`\p{M}`).
pub(crate) const MARK: u8 = 1 << 5;
/// Number (`\p{N}`).
pub(crate) const NUM: u8 = 1 << 6;
/// White space (`\s`).
pub(crate) const SPACE: u8 = 1 << 7;
/// Any letter (`\p{L}`).
pub(crate) const LETTER: u8 = LU | LL | LT | LM | LO;

const BLOCK: usize = 256;
const BLOCKS: usize = 0x11_0000 / BLOCK;

struct Table {
    /// Index of the 256-entry block for each block of code points.
    index: Box<[u16]>,
    /// Deduplicated blocks of class flags.
    blocks: Vec<[u8; BLOCK]>,
    /// Flags for ASCII, the hot path.
    ascii: [u8; 128],
}

fn ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("built-in class pattern parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => unreachable!("class pattern {pattern} parsed to {other:?}"),
    }
}

fn build() -> Table {
    let mut flat = vec![0u8; 0x11_0000];
    for (pattern, flag) in [
        (r"\p{Lu}", LU),
        (r"\p{Ll}", LL),
        (r"\p{Lt}", LT),
        (r"\p{Lm}", LM),
        (r"\p{Lo}", LO),
        (r"\p{M}", MARK),
        (r"\p{N}", NUM),
        (r"\s", SPACE),
    ] {
        for (start, end) in ranges(pattern) {
            for cp in start..=end {
                flat[cp as usize] |= flag;
            }
        }
    }
    let mut blocks: Vec<[u8; BLOCK]> = Vec::new();
    let mut index = vec![0u16; BLOCKS];
    let mut seen = rustc_hash::FxHashMap::default();
    for (b, slot) in index.iter_mut().enumerate() {
        let mut block = [0u8; BLOCK];
        block.copy_from_slice(&flat[b * BLOCK..(b + 1) * BLOCK]);
        let id = *seen.entry(block).or_insert_with(|| {
            blocks.push(block);
            blocks.len() - 1
        });
        *slot = u16::try_from(id).expect("fewer than 65536 distinct blocks");
    }
    let mut ascii = [0u8; 128];
    ascii.copy_from_slice(&flat[..128]);
    Table {
        index: index.into_boxed_slice(),
        blocks,
        ascii,
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// A resolved view of the class table, cheap to copy into hot loops.
#[derive(Clone, Copy)]
pub(crate) struct Classes {
    table: &'static Table,
}

impl Classes {
    /// The shared class table, built on first use.
    pub(crate) fn get() -> Self {
        Self { table: table() }
    }

    /// The class flags of the ASCII byte `b` (`b < 128`).
    #[inline(always)]
    pub(crate) fn ascii(self, b: u8) -> u8 {
        self.table.ascii[usize::from(b & 0x7f)]
    }

    /// The class flags of `c`.
    #[inline]
    pub(crate) fn of(self, c: char) -> u8 {
        let cp = c as usize;
        if cp < 128 {
            self.table.ascii[cp]
        } else {
            let block = self.table.index[cp / BLOCK] as usize;
            self.table.blocks[block][cp % BLOCK]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_classes() {
        let c = Classes::get();
        assert_eq!(c.of('a'), LL);
        assert_eq!(c.of('A'), LU);
        assert_eq!(c.of('7'), NUM);
        assert_eq!(c.of(' '), SPACE);
        assert_eq!(c.of('\n'), SPACE);
        assert_eq!(c.of('!'), 0);
    }

    #[test]
    fn non_ascii_classes() {
        let c = Classes::get();
        assert_eq!(c.of('é'), LL);
        assert_eq!(c.of('日'), LO);
        assert_eq!(c.of('\u{0301}'), MARK);
        assert_eq!(c.of('\u{00a0}'), SPACE);
        assert_eq!(c.of('Ⅻ'), NUM); // Roman numeral twelve is Nl: a number, not a letter
        assert_eq!(c.of('ǅ'), LT);
        assert_eq!(c.of('ʰ'), LM);
    }
}
