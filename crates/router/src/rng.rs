//! Randomness behind a trait, and CPython's `random` algorithms on top of it.
//!
//! LiteLLM draws with `random.choice`, `random.choices(weights=...)` and `random.sample`. The
//! strategies here call [`choice`], [`choices`] and [`sample`], which are line-for-line ports
//! of CPython 3.11's versions, over a [`RouterRng`]. With [`PyRandom`] (a port of CPython's
//! Mersenne Twister) seeded like `random.seed(n)`, a pick draws exactly what LiteLLM draws.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// A source of randomness for picks.
pub trait RouterRng {
    /// 32 random bits (CPython's `genrand_uint32`).
    fn next_u32(&mut self) -> u32;

    /// A float in `[0, 1)` with 53 random bits (CPython's `random.random()`).
    fn random(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `k` random bits, `k <= 64` (CPython's `getrandbits(k)`: 32-bit words, least significant
    /// first, the last one shifted down).
    fn getrandbits(&mut self, k: u32) -> u64 {
        if k == 0 {
            return 0;
        }
        let mut left = k.min(64);
        let mut result = 0u64;
        let mut shift = 0;
        while left > 0 {
            let mut word = self.next_u32();
            if left < 32 {
                word >>= 32 - left;
            }
            result |= u64::from(word) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        result
    }

    /// A uniform integer in `[0, n)`, `n >= 1` (CPython's `_randbelow_with_getrandbits`).
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        if n == 0 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                // r < n, which came from a usize.
                return r as usize;
            }
        }
    }
}

impl<R: RouterRng + ?Sized> RouterRng for &mut R {
    fn next_u32(&mut self) -> u32 {
        (**self).next_u32()
    }
}

impl<R: RouterRng + ?Sized> RouterRng for Box<R> {
    fn next_u32(&mut self) -> u32 {
        (**self).next_u32()
    }
}

/// The default generator: `rand`'s [`StdRng`] (ChaCha12), seeded.
#[derive(Debug)]
pub struct StdRouterRng(StdRng);

impl StdRouterRng {
    /// A generator with a fixed seed: the same seed gives the same picks.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }
}

impl RouterRng for StdRouterRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
}

const N: usize = 624;
const M: usize = 397;

/// CPython's `random.Random`: MT19937 seeded as `random.seed(int)` seeds it.
///
/// # Examples
///
/// ```
/// use fastllm_router::RouterRng;
/// use fastllm_router::litellm::PyRandom;
///
/// // Python: random.Random(42).random()
/// assert_eq!(PyRandom::new(42).random(), 0.6394267984578837);
/// ```
#[derive(Clone)]
pub struct PyRandom {
    mt: Box<[u32; N]>,
    index: usize,
}

impl std::fmt::Debug for PyRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyRandom")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl PyRandom {
    /// `random.Random(seed)` for an integer seed (Python uses `abs(seed)`).
    #[must_use]
    pub fn new(seed: i128) -> Self {
        let mut n = seed.unsigned_abs();
        let mut key = Vec::new();
        while n > 0 {
            // Low 32 bits first, as CPython splits the seed.
            key.push((n & 0xffff_ffff) as u32);
            n >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        let mut rng = Self {
            mt: Box::new([0; N]),
            index: N,
        };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..N {
            let prev = self.mt[i - 1];
            // i < 624.
            self.mt[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let mut i = 1usize;
        let mut j = 0usize;
        for _ in 0..N.max(key.len()) {
            let prev = self.mt[i - 1];
            // j < key.len(), which is at most 4 for an i128 seed.
            self.mt[i] = (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.mt[i - 1];
            // i < 624.
            self.mt[i] = (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
        }
        self.mt[0] = 0x8000_0000;
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for k in 0..N {
            let y = (self.mt[k] & UPPER) | (self.mt[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }
}

impl RouterRng for PyRandom {
    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.generate();
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// `random.choice(seq)`: an index into a non-empty sequence of `len` items.
pub fn choice(rng: &mut (impl RouterRng + ?Sized), len: usize) -> usize {
    rng.below(len)
}

/// `random.choices(population, weights=weights)[0]`: an index drawn by weight.
///
/// Returns `None` where CPython raises `ValueError` (no items, a total that is not positive, or
/// not finite). The cumulative sums and the bisection are CPython's, so even unusual weights
/// pick what CPython picks.
pub fn choices(rng: &mut (impl RouterRng + ?Sized), weights: &[f64]) -> Option<usize> {
    let n = weights.len();
    if n == 0 {
        return None;
    }
    let mut cum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        // itertools.accumulate starts from the first element itself.
        acc = if i == 0 { *w } else { acc + w };
        cum.push(acc);
    }
    let total = acc + 0.0;
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let x = rng.random() * total;
    Some(bisect_right(&cum, x, 0, n - 1))
}

/// `bisect.bisect_right(a, x, lo, hi)`, exactly as CPython computes it (also on unsorted input).
fn bisect_right(a: &[f64], x: f64, mut lo: usize, mut hi: usize) -> usize {
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < a[mid] {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// `random.sample(population, len(population))`: a random permutation of `0..len`, drawn as
/// CPython draws it (the pool branch, which is the one taken when `k == n`).
pub fn sample(rng: &mut (impl RouterRng + ?Sized), len: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..len).collect();
    let mut result = Vec::with_capacity(len);
    for i in 0..len {
        let j = rng.below(len - i);
        result.push(pool[j]);
        pool[j] = pool[len - i - 1];
    }
    result
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    // Every expected value below was printed by CPython 3.11's `random`.

    #[test]
    fn random_matches_cpython() {
        let mut r = PyRandom::new(42);
        assert_eq!(r.random(), 0.6394267984578837);
        assert_eq!(r.random(), 0.025010755222666936);
        assert_eq!(r.random(), 0.27502931836911926);
        assert_eq!(
            PyRandom::new(123_456_789_012_345_678_901_234_567_890).random(),
            0.7275084571578186
        );
        assert_eq!(PyRandom::new(-5).random(), 0.6229016948897019);
        assert_eq!(PyRandom::new(0).getrandbits(64), 7_106_521_602_475_165_645);
    }

    #[test]
    fn below_matches_cpython() {
        let mut r = PyRandom::new(42);
        let got: Vec<usize> = [1usize, 2, 3, 7, 10, 100, 1000, (1 << 31) + 5, (1 << 40) + 3]
            .iter()
            .map(|n| r.below(*n))
            .collect();
        assert_eq!(got, [0, 0, 2, 2, 3, 28, 142, 440_213_415, 70_531_617_177]);
    }

    #[test]
    fn choice_choices_sample_match_cpython() {
        let mut r = PyRandom::new(2024);
        let letters: Vec<char> = "abcdefghij".chars().collect();
        let got: String = (0..8)
            .map(|_| letters[choice(&mut r, letters.len())])
            .collect();
        assert_eq!(got, "hcjedgei");

        let mut r = PyRandom::new(7);
        let got: Vec<usize> = (0..10)
            .map(|_| choices(&mut r, &[1.0, 0.5, 0.0, 0.25]).unwrap())
            .collect();
        assert_eq!(got, [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);

        let mut r = PyRandom::new(7);
        assert_eq!(sample(&mut r, 6), [2, 1, 3, 5, 0, 4]);
        assert_eq!(sample(&mut r, 1), [0]);
        assert_eq!(
            sample(&mut r, 25),
            [
                11, 18, 1, 16, 6, 22, 2, 13, 17, 23, 3, 19, 8, 20, 0, 9, 21, 14, 5, 24, 4, 10, 15,
                12, 7
            ]
        );
    }

    #[test]
    fn choices_refuses_what_cpython_refuses() {
        let mut r = StdRouterRng::seeded(1);
        assert_eq!(choices(&mut r, &[]), None);
        assert_eq!(choices(&mut r, &[0.0, 0.0]), None);
        assert_eq!(choices(&mut r, &[1.0, f64::INFINITY]), None);
        assert_eq!(choices(&mut r, &[0.0, 2.0]), Some(1));
    }

    #[test]
    fn std_rng_is_reproducible() {
        let a: Vec<usize> = {
            let mut r = StdRouterRng::seeded(9);
            (0..16).map(|_| r.below(1000)).collect()
        };
        let mut r = StdRouterRng::seeded(9);
        let b: Vec<usize> = (0..16).map(|_| r.below(1000)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|x| *x < 1000));
    }
}
