//! Byte-pair ranks and a counting-only byte-pair merge.
//!
//! Ranks of tokens up to 15 bytes (nearly all of them) are keyed by the token packed into a
//! `u128`, so a lookup hashes two words and compares one integer instead of calling
//! `memcmp` on a heap key. The merge follows tiktoken's rule (repeatedly merge the adjacent
//! pair with the lowest rank, the leftmost on ties) on stack arrays, and only counts.
//!
//! Pieces that are not one token (rare words, identifiers, long numbers) are the expensive
//! ones; their counts are remembered in a small per-thread cache, as a gateway counts the same
//! system prompts and tool schemas over and over. The cache holds counts only, so a hit
//! returns exactly what the merge would.

use std::cell::RefCell;

use rustc_hash::FxHashMap;
use tiktoken_rs::Rank;

/// Entries a thread's merge cache holds before it is emptied and refilled.
const CACHE_CAPACITY: usize = 1 << 15;

/// One cache per encoding slot (see `Encoding::ALL`).
const SLOTS: usize = 6;

thread_local! {
    /// Per encoding slot: piece → token count, for pieces that needed merging.
    static MERGE_CACHE: RefCell<[FxHashMap<Box<[u8]>, u32>; SLOTS]> = RefCell::new(Default::default());
}

/// Pieces longer than this go to tiktoken-rs's own merge.
const MAX_STACK_PIECE: usize = 256;

/// The rank table of one encoding.
#[derive(Debug)]
pub(crate) struct Ranks {
    short: FxHashMap<u128, Rank>,
    long: FxHashMap<Vec<u8>, Rank>,
    all: &'static FxHashMap<Vec<u8>, Rank>,
}

#[inline(always)]
fn pack(bytes: &[u8]) -> Option<u128> {
    if bytes.len() > 15 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(buf))
}

impl Ranks {
    pub(crate) fn new(all: &'static FxHashMap<Vec<u8>, Rank>) -> Self {
        let mut short = FxHashMap::default();
        let mut long = FxHashMap::default();
        for (bytes, &rank) in all {
            match pack(bytes) {
                Some(key) => {
                    short.insert(key, rank);
                }
                None => {
                    long.insert(bytes.clone(), rank);
                }
            }
        }
        Self { short, long, all }
    }

    /// The rank of `bytes` as one token.
    #[inline(always)]
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<Rank> {
        match pack(bytes) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(bytes).copied(),
        }
    }

    /// [`Ranks::merge_count`] through the calling thread's cache; `slot` tells encodings apart.
    pub(crate) fn cached_merge_count(&self, slot: usize, piece: &[u8]) -> usize {
        let slot = slot % SLOTS;
        if let Some(count) = MERGE_CACHE.with(|cache| cache.borrow()[slot].get(piece).copied()) {
            return count as usize;
        }
        let count = self.merge_count(piece);
        MERGE_CACHE.with(|cache| {
            let cache = &mut cache.borrow_mut()[slot];
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(piece.into(), count as u32);
        });
        count
    }

    /// The number of tokens byte-pair encoding gives `piece` (at least two bytes long and
    /// not itself a token).
    pub(crate) fn merge_count(&self, piece: &[u8]) -> usize {
        if piece.len() > MAX_STACK_PIECE {
            return tiktoken_rs::byte_pair_split(piece, self.all).len();
        }
        // starts[k]: where part k begins; ranks[k]: the rank of merging part k with part k+1.
        let mut starts = [0u16; MAX_STACK_PIECE + 1];
        let mut ranks = [Rank::MAX; MAX_STACK_PIECE + 1];
        let n = piece.len();
        for (k, start) in starts[..=n].iter_mut().enumerate() {
            *start = k as u16;
        }
        for (k, rank) in ranks[..n - 1].iter_mut().enumerate() {
            *rank = self.get(&piece[k..k + 2]).unwrap_or(Rank::MAX);
        }
        // `parts` parts, `parts + 1` boundaries (the last is the end of the piece).
        let mut parts = n;
        let pair_rank = |starts: &[u16], k: usize, parts: usize| -> Rank {
            // The rank of the bytes of parts k and k+1 together, if both exist.
            if k + 2 <= parts {
                self.get(&piece[starts[k] as usize..starts[k + 2] as usize])
                    .unwrap_or(Rank::MAX)
            } else {
                Rank::MAX
            }
        };
        loop {
            let mut best = Rank::MAX;
            let mut at = 0;
            for (k, &rank) in ranks[..parts.saturating_sub(1)].iter().enumerate() {
                if rank < best {
                    best = rank;
                    at = k;
                }
            }
            if best == Rank::MAX {
                return parts;
            }
            // Merge part `at` with part `at + 1`: drop boundary `at + 1`.
            starts.copy_within(at + 2..=parts, at + 1);
            ranks.copy_within(at + 2..parts, at + 1);
            parts -= 1;
            ranks[at] = pair_rank(&starts, at, parts);
            if at > 0 {
                ranks[at - 1] = pair_rank(&starts, at - 1, parts);
            }
        }
    }
}
