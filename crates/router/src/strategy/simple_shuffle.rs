//! `simple-shuffle`: LiteLLM's `router_strategy/simple_shuffle.py::simple_shuffle`.
//!
//! The first weight set whose largest weight is positive decides, drawn with
//! `random.choices(healthy, weights=[w / max(w)])`: the request's `_router_weights` for the
//! group, then each deployment's `litellm_params.weight`, then `rpm`, then `tpm`. With none of
//! them, `random.choice(healthy)`.

use crate::registry::Member;
use crate::rng::{self, RouterRng};
use crate::strategy::{RouterWeights, py_sum};

/// Picks one of `healthy` (non-empty).
pub fn pick<'a>(
    group: &str,
    healthy: &[&'a Member],
    weights: Option<&RouterWeights>,
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<&'a Member> {
    if healthy.is_empty() {
        return None;
    }
    let mut buf = Vec::with_capacity(healthy.len());
    // _scoped_weights: only when the group has a non-empty weights dict.
    if let Some(scoped) = weights
        .and_then(|w| w.group(group))
        .filter(|w| !w.is_empty())
    {
        buf.extend(
            healthy
                .iter()
                .map(|m| scoped.get(m.deployment.id()).copied().unwrap_or(0.0)),
        );
        if let Some(i) = weighted(&mut buf, rng) {
            return Some(healthy[i]);
        }
    }
    let metrics: [fn(&Member) -> Option<f64>; 3] = [
        |m| m.deployment.weight(),
        // Validated rpm/tpm are i64; f64 is exact below 2^53.
        |m| m.deployment.rpm().map(|v| v as f64),
        |m| m.deployment.tpm().map(|v| v as f64),
    ];
    for metric in metrics {
        buf.clear();
        buf.extend(healthy.iter().map(|m| metric(m).unwrap_or(0.0)));
        if let Some(i) = weighted(&mut buf, rng) {
            return Some(healthy[i]);
        }
    }
    Some(healthy[rng::choice(rng, healthy.len())])
}

/// The same rule over plain weight sets: `len` candidates, each of `weight_sets` one weight
/// per candidate (absent weights as `0.0`), tried in order (LiteLLM's request weights, then
/// `weight`, `rpm`, `tpm`); the first whose largest weight is positive decides, else a uniform
/// `random.choice`. Returns the index drawn, `None` only when `len` is 0.
///
/// `buf` is scratch space, so a caller picking in a loop allocates once.
pub fn pick_index<'w>(
    len: usize,
    weight_sets: impl IntoIterator<Item = &'w [f64]>,
    buf: &mut Vec<f64>,
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<usize> {
    if len == 0 {
        return None;
    }
    for weights in weight_sets {
        debug_assert_eq!(weights.len(), len);
        buf.clear();
        buf.extend_from_slice(weights);
        if let Some(i) = weighted(buf, rng) {
            return Some(i);
        }
    }
    Some(rng::choice(rng, len))
}

/// One weight set: `None` when LiteLLM moves on to the next one.
fn weighted(weights: &mut [f64], rng: &mut (impl RouterRng + ?Sized)) -> Option<usize> {
    // max(weights, default=0.0): Python keeps the current maximum unless `item > current`.
    let largest = weights
        .iter()
        .copied()
        .reduce(|best, w| if w > best { w } else { best })
        .unwrap_or(0.0);
    if largest <= 0.0 {
        return None;
    }
    for w in weights.iter_mut() {
        *w /= largest;
    }
    if py_sum(weights.iter().copied()) <= 0.0 {
        return None;
    }
    rng::choices(rng, weights)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::rng::PyRandom;
    use crate::state::Tracking;
    use crate::strategy::test_support::{Fixture, dep};
    use serde_json::json;

    fn ids(f: &Fixture, seed: i128, n: usize, weights: Option<&RouterWeights>) -> Vec<String> {
        let healthy = f.members("g");
        let mut rng = PyRandom::new(seed);
        (0..n)
            .map(|_| {
                pick("g", &healthy, weights, &mut rng)
                    .unwrap()
                    .deployment
                    .id()
                    .to_owned()
            })
            .collect()
    }

    // Expected sequences: LiteLLM 1.109.3's simple_shuffle(...)["model_info"]["id"] after
    // random.seed(seed), same deployments, same calls.

    /// `pick_index` over plain weight sets draws what `pick` draws over the same deployments.
    fn indices(sets: &[&[f64]], len: usize, seed: i128, n: usize) -> Vec<usize> {
        let mut rng = PyRandom::new(seed);
        let mut buf = Vec::new();
        (0..n)
            .map(|_| pick_index(len, sets.iter().copied(), &mut buf, &mut rng).unwrap())
            .collect()
    }

    #[test]
    fn pick_index_matches_cpython_sequences() {
        // Same expectations as `uniform_is_random_choice` and `weight_then_rpm_then_tpm`.
        assert_eq!(indices(&[&[0.0; 3]], 3, 1, 6), [0, 2, 0, 1, 0, 1]);
        assert_eq!(indices(&[], 3, 1, 6), [0, 2, 0, 1, 0, 1]);
        let weight: &[f64] = &[1.0, 3.0, 0.0];
        let rpm: &[f64] = &[1000.0, 0.0, 0.0];
        assert_eq!(indices(&[weight, rpm], 3, 3, 6), [0, 1, 1, 1, 1, 0]);
        let rpm: &[f64] = &[10.0, 30.0, 0.0];
        assert_eq!(indices(&[&[0.0; 3], rpm], 3, 3, 6), [0, 1, 1, 1, 1, 0]);
        let mut buf = Vec::new();
        assert_eq!(pick_index(0, [], &mut buf, &mut PyRandom::new(1)), None);
    }

    #[test]
    fn uniform_is_random_choice() {
        let f = Fixture::new(
            Tracking::None,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        assert_eq!(ids(&f, 1, 6, None), ["a", "c", "a", "b", "a", "b"]);
    }

    #[test]
    fn weight_then_rpm_then_tpm() {
        let f = Fixture::new(
            Tracking::None,
            vec![
                dep("a").weight(1.0).rpm(1000).build().unwrap(),
                dep("b").weight(3.0).build().unwrap(),
                dep("c").tpm(5).build().unwrap(),
            ],
        );
        assert_eq!(ids(&f, 3, 6, None), ["a", "b", "b", "b", "b", "a"]);
        let rpm_only = Fixture::new(
            Tracking::None,
            vec![
                dep("a").rpm(10).build().unwrap(),
                dep("b").rpm(30).tpm(1).build().unwrap(),
                dep("c").tpm(1000).build().unwrap(),
            ],
        );
        assert_eq!(ids(&rpm_only, 3, 6, None), ["a", "b", "b", "b", "b", "a"]);
    }

    #[test]
    fn request_weights_first() {
        let f = Fixture::new(
            Tracking::None,
            vec![
                dep("a").weight(100.0).build().unwrap(),
                dep("b").build().unwrap(),
            ],
        );
        let w = RouterWeights::from_json(&json!({"g": {"b": 1.0}})).unwrap();
        assert_eq!(ids(&f, 5, 4, Some(&w)), ["b", "b", "b", "b"]);
        // Weights for another group do not apply.
        let other = RouterWeights::from_json(&json!({"h": {"b": 1.0}})).unwrap();
        assert_eq!(ids(&f, 5, 3, Some(&other)), ["a", "a", "a"]);
    }

    #[test]
    fn router_weights_validation() {
        assert!(RouterWeights::from_json(&json!({"g": {"a": -1}})).is_err());
        assert!(RouterWeights::from_json(&json!({"g": {"a": 0}})).is_err());
        assert!(RouterWeights::from_json(&json!({"g": {"a": true}})).is_err());
        assert!(RouterWeights::from_json(&json!({" ": {"a": 1}})).is_err());
        assert!(RouterWeights::from_json(&json!({"g": {}})).is_ok());
        assert!(RouterWeights::from_json(&json!({"g": {"a": 0, "b": 2}})).is_ok());
    }
}
