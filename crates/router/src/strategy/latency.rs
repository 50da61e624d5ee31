//! `latency-based-routing`: LiteLLM's
//! `router_strategy/lowest_latency.py::LowestLatencyLoggingHandler._get_available_deployments`.
//!
//! 1. Every healthy deployment missing from the group's latency map gets
//!    `latency_normalized: [0]`; when the map exists, LiteLLM writes these entries into it, so
//!    they stay (and a later real sample is averaged with that 0).
//! 2. The map's entries are shuffled with `random.sample` (including entries of deployments
//!    that are not healthy now, which are then skipped).
//! 3. Deployments over `tpm`/`rpm` this minute are dropped (limits read as `a or b or c or inf`).
//! 4. Each gets its average latency: of the time-to-first-token samples for a stream that has
//!    some (or their `ttft_percentile`), else of the normalised latencies; negative or non-finite
//!    samples ignored.
//! 5. Sorted (stable); `random.choice` among those within `lowest * (1 + lowest_latency_buffer)`.

use crate::clock::Clock;
use crate::deployment::Metric;
use crate::registry::Member;
use crate::rng::{self, RouterRng};
use crate::state::{LatencyEntry, minute_usage};
use crate::strategy::{PickContext, Usage, align, python_order};
use crate::sync::lock;

/// `RoutingArgs` of latency-based routing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencyArgs {
    /// `lowest_latency_buffer`: also consider deployments within this fraction of the lowest.
    pub lowest_latency_buffer: f64,
    /// `ttft_percentile` (in `(0, 1]`): rank streams by this percentile of time to first token
    /// instead of its average.
    pub ttft_percentile: Option<f64>,
}

/// `_average_latency(_usable_latency_samples(samples))` on Python 3.11: the mean of the
/// finite samples `>= 0` (a left fold, then one division), without allocating; `None` when no
/// sample is usable.
#[must_use]
pub fn average(samples: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = samples
        .into_iter()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .fold((0.0, 0usize), |(sum, n), s| (sum + s, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// `_percentile_latency`'s position in the sorted samples: `sorted(values)[ceil(len * p) - 1]`
/// with Python's indexing (a negative index counts from the end); `None` where Python raises
/// (the index out of range, or `p` not finite).
#[must_use]
pub fn percentile_position(len: usize, p: f64) -> Option<usize> {
    if !p.is_finite() {
        return None;
    }
    let index = (len as f64 * p).ceil() - 1.0;
    let len_f = len as f64;
    let index = if index < 0.0 { index + len_f } else { index };
    // In range, the float is a whole number below `len`, so the cast is exact.
    (index >= 0.0 && index < len_f).then_some(index as usize)
}

/// The last step over plain inputs: the candidates within their limits, each with its key and
/// ranked latency, in `random.sample`'s order; sorted by latency (stable, Python's `<`), and
/// `random.choice` among those within `lowest * (1 + buffer)` (all of them when none is).
/// `None`, with nothing drawn, for no candidates. Sorts `potential` in place.
pub fn select<K: Copy>(
    potential: &mut [(K, f64)],
    buffer: f64,
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<K> {
    if potential.is_empty() {
        return None;
    }
    potential.sort_by(|a, b| python_order(a.1, b.1));
    let lowest = potential[0].1;
    let ceiling = lowest + buffer * lowest;
    let valid = potential.iter().take_while(|(_, l)| *l <= ceiling).count();
    // `random.choice(valid_deployments or sorted_deployments)`.
    let pool = if valid > 0 { valid } else { potential.len() };
    Some(potential[rng::choice(rng, pool)].0)
}

/// The latency a deployment is ranked by.
fn ranked_latency(entry: &LatencyEntry, stream: bool, args: &LatencyArgs) -> f64 {
    let ttft = entry.ttft.iter().copied();
    if stream && let Some(average) = average(ttft.clone()) {
        return match args.ttft_percentile {
            Some(p) => {
                let mut usable: Vec<f64> = ttft.filter(|s| s.is_finite() && *s >= 0.0).collect();
                usable.sort_by(|a, b| python_order(*a, *b));
                let position = percentile_position(usable.len(), p).unwrap_or(usable.len() - 1);
                usable[position]
            }
            None => average,
        };
    }
    average(entry.latency.iter().copied()).unwrap_or(0.0)
}

/// Picks one of `healthy` (non-empty).
pub fn pick<'a>(
    ctx: &PickContext<'_, impl Clock>,
    args: &LatencyArgs,
    healthy: &[&'a Member],
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<&'a Member> {
    let minute = ctx.wall.local_minute();
    let mut map = lock(&ctx.group.state().latency);
    // `get_cache(...) or {}`: an absent or empty map is a fresh dict nobody stores.
    let persisted = map.live(0, ctx.now).filter(|entries| !entries.is_empty());
    let cached = persisted.is_some();
    let aligned = align(persisted, healthy, || LatencyEntry::unused(minute));
    let entries = if cached { map.live(0, ctx.now) } else { None };
    let unused = LatencyEntry::unused(minute);

    let order = rng::sample(rng, aligned.len());
    let mut potential: Vec<(&'a Member, f64)> = Vec::with_capacity(healthy.len());
    for index in order {
        let Some(member) = aligned[index] else {
            continue;
        };
        let entry = entries
            .as_ref()
            .and_then(|e| e.get_index(index))
            .map_or(&unused, |(_, entry)| entry);
        let d = &member.deployment;
        let latency = ranked_latency(entry, ctx.request.stream, args);
        let (tpm, rpm) = minute_usage(entry.minute, minute);
        let usage = Usage {
            tpm: tpm as f64,
            rpm: Some(rpm as f64),
            tpm_limit: d.limit_truthy(Metric::Tpm),
            rpm_limit: d.limit_truthy(Metric::Rpm),
        };
        if usage.within_minute_limits(ctx.request.input_tokens as f64) {
            potential.push((member, latency));
        }
    }
    select(&mut potential, args.lowest_latency_buffer, rng)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::rng::PyRandom;
    use crate::state::{Success, Tracking};
    use crate::strategy::Request;
    use crate::strategy::test_support::{Fixture, dep};

    fn run(
        f: &Fixture,
        args: &LatencyArgs,
        request: &Request<'_>,
        rng: &mut PyRandom,
    ) -> Option<String> {
        let ctx = f.ctx(request);
        pick(&ctx, args, &f.members("g"), rng).map(|m| m.deployment.id().to_owned())
    }

    fn success(f: &Fixture, id: &str, secs: f64, ttft: Option<f64>) {
        let m = f.member(id);
        f.state.record_success(
            "g",
            id,
            &m.state,
            &Success {
                latency_secs: secs,
                time_to_first_token_secs: ttft,
                ..Success::default()
            },
        );
    }

    #[test]
    fn lowest_average_wins_and_unused_get_zero() {
        let f = Fixture::new(
            Tracking::Latency,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        success(&f, "a", 2.0, None);
        success(&f, "b", 1.0, None);
        success(&f, "c", 3.0, None);
        let args = LatencyArgs::default();
        let mut rng = PyRandom::new(0);
        assert_eq!(
            run(&f, &args, &Request::default(), &mut rng).as_deref(),
            Some("b")
        );
        // A new deployment in the group: LiteLLM routes to it (latency [0]) and keeps the 0.
        let g = Fixture::new(
            Tracking::Latency,
            vec![dep("a").build().unwrap(), dep("n").build().unwrap()],
        );
        success(&g, "a", 2.0, None);
        assert_eq!(
            run(&g, &args, &Request::default(), &mut rng).as_deref(),
            Some("n")
        );
        success(&g, "n", 4.0, None);
        assert_eq!(g.state.latency_samples("g", "n"), [0.0, 4.0]);
        // (0 + 4) / 2 = 2.0 ties with a: the buffer of 0 keeps both, random.choice decides.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            seen.insert(run(&g, &args, &Request::default(), &mut rng).unwrap());
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn same_draws_as_litellm() {
        // LiteLLM 1.109.3, LowestLatencyLoggingHandler over a fresh DualCache, deployments
        // [a, b, c], random.seed(9), eight async_get_available_deployments calls.
        let f = Fixture::new(
            Tracking::Latency,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        let mut rng = PyRandom::new(9);
        let got: Vec<String> = (0..8)
            .map(|_| run(&f, &LatencyArgs::default(), &Request::default(), &mut rng).unwrap())
            .collect();
        assert_eq!(got, ["b", "b", "c", "c", "c", "a", "b", "c"]);
        // Same, after one 1 s success of a: the map {a} gains b and c at [0] on the first pick,
        // and random.choice draws between b and c in random.sample's order.
        let f = Fixture::new(
            Tracking::Latency,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        success(&f, "a", 1.0, None);
        let mut rng = PyRandom::new(9);
        let got: Vec<String> = (0..8)
            .map(|_| run(&f, &LatencyArgs::default(), &Request::default(), &mut rng).unwrap())
            .collect();
        assert_eq!(got, ["b", "b", "c", "b", "c", "c", "c", "c"]);
    }

    #[test]
    fn stream_uses_ttft_and_buffer() {
        let f = Fixture::new(
            Tracking::Latency,
            vec![dep("a").build().unwrap(), dep("b").build().unwrap()],
        );
        success(&f, "a", 1.0, Some(0.9));
        success(&f, "b", 5.0, Some(0.1));
        let mut rng = PyRandom::new(1);
        let stream = Request {
            stream: true,
            ..Request::default()
        };
        assert_eq!(
            run(&f, &LatencyArgs::default(), &stream, &mut rng).as_deref(),
            Some("b")
        );
        assert_eq!(
            run(&f, &LatencyArgs::default(), &Request::default(), &mut rng).as_deref(),
            Some("a")
        );
        // A buffer of 10 (x lowest 0.1 = 1.0) admits a (0.9) as well.
        let wide = LatencyArgs {
            lowest_latency_buffer: 10.0,
            ttft_percentile: None,
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..30 {
            seen.insert(run(&f, &wide, &stream, &mut rng).unwrap());
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn over_limit_is_skipped() {
        let f = Fixture::new(
            Tracking::Latency,
            vec![dep("a").rpm(1).build().unwrap(), dep("b").build().unwrap()],
        );
        success(&f, "a", 0.1, None);
        success(&f, "b", 9.0, None);
        let mut rng = PyRandom::new(2);
        // a has 1 request this minute and rpm 1: 1 + 1 > 1.
        assert_eq!(
            run(&f, &LatencyArgs::default(), &Request::default(), &mut rng).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn percentile_index() {
        // _percentile_latency: sorted(values)[ceil(len * p) - 1]
        assert_eq!(percentile_position(4, 0.5), Some(1));
        assert_eq!(percentile_position(4, 1.0), Some(3));
        assert_eq!(percentile_position(1, 0.01), Some(0));
        // ceil(0) - 1 = -1: Python's last element; past the end or NaN: Python raises.
        assert_eq!(percentile_position(4, 0.0), Some(3));
        assert_eq!(percentile_position(4, 1.5), None);
        assert_eq!(percentile_position(4, f64::NAN), None);
    }
}
